"""schemathesis against the app's own OpenAPI description, in process (ASGI): generated
requests from a county officer (who may call everything) never get a 5xx, and every response
matches the schema the app publishes (status codes, content types, bodies).

Examples are bounded so the whole run stays well under a minute.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Seeded

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_no_server_errors_and_responses_match_the_schema(app: FastAPI, seeded: Seeded) -> None:
    headers = {"Authorization": f"Bearer {seeded.tokens['officer']}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tested = []
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]  # an invalid schema fails here

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        exercise()
        tested.append(operation.label)
    assert "POST /api/v1/associations/{association_id}/loans" in tested
    assert len(tested) >= 20


def test_openapi_documents_problem_json_and_idempotency(app: FastAPI) -> None:
    document = app.openapi()
    operation = document["paths"]["/api/v1/associations/{association_id}/loans"]["post"]
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert "Idempotency-Key" in headers
    problem = operation["responses"]["409"]["content"]
    assert list(problem) == ["application/problem+json"]
    listing = document["paths"]["/api/v1/associations"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"cursor", "limit"}
