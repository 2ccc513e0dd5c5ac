"""Tilda's form Webhook (kind ``tilda``): PROTOCOLS.md §1."""

from adapters.tilda.translate import translate

__all__ = ["translate"]
