"""The reconciliation engine: a pure library that matches book entries to bank entries.

No database and no I/O: it takes entries and returns matches and typed exceptions.
"""
