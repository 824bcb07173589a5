"""The HTTP API: app factory, transactions, errors, pagination, idempotency, health, metrics."""
