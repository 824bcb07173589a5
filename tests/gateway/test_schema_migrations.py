"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from gateway.db import Base
from gateway.migrations import current_heads
from gateway.models import load_all_models


def test_migrated_schema_matches_the_models(engine: Engine, db_url: str) -> None:
    """Every domain's models (gateway/*/models.py) have their migration, and nothing else."""
    load_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert len(current_heads(db_url)) == 1
