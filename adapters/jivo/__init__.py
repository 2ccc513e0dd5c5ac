"""Jivo chat widget Webhooks API (kind ``jivo``): https://www.jivo.ru/docs/webhooks/."""

from adapters.jivo.translate import translate

__all__ = ["translate"]
