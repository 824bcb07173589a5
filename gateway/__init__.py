"""The application: ledger, rules, payment lifecycle, jobs, API, console and CLI."""
