"""A MAX bot's webhook (kind ``max``): https://dev.max.ru/docs-api, ``POST /subscriptions``."""

from adapters.max.translate import translate

__all__ = ["translate"]
