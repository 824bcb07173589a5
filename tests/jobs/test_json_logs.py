"""Unattended runs log one JSON object per line, with the step's fields."""

from __future__ import annotations

import io
import json
import logging

from gateway.jobs.runtime import JsonFormatter


def test_each_record_is_one_json_line_with_its_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("huzhu.test.jsonlogs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info(
            "step done",
            extra={"step": "fetch", "business_date": "2024-07-01", "summary": {"stored": 2}},
        )
        try:
            raise ConnectionRefusedError("银行拒绝连接")
        except ConnectionRefusedError:
            logger.exception("step failed", extra={"step": "batches"})
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "step done"
    assert first["level"] == "info"
    assert first["step"] == "fetch"
    assert first["summary"] == {"stored": 2}
    assert first["time"].endswith("+00:00")
    assert second["level"] == "error"
    assert "银行拒绝连接" in second["exception"]
