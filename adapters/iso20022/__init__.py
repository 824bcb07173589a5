"""ISO 20022 adapter."""
