"""Bank adapters: bank-neutral records, file formats, transport and the sandbox bank.

This package knows banks and nothing else; it imports nothing from ``gateway`` or
``reconciliation``.
"""
