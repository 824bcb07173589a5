"""The mismatch queue (对账差错队列): reconciliation exceptions a person works through."""
