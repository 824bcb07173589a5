"""Nightly reconciliation in the gateway: statements and books in, the engine run, results kept.

:func:`gateway.reconcile.service.reconcile_account` reconciles one special account for one
business date; :func:`gateway.reconcile.service.reconcile_business_date` does every special
account (the nightly pipeline's ``reconcile`` step).
"""
