"""The ``iso20022`` adapter (pain.001, pain.008, pain.002, camt.053, camt.054)."""

from adapters.iso20022.adapter import Iso20022Adapter

__all__ = ["Iso20022Adapter"]
