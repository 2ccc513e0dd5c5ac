"""Jivo chat widget Webhooks API (kind ``jivo``): PROTOCOLS.md §3."""

from adapters.jivo.translate import translate

__all__ = ["translate"]
