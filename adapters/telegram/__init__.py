"""A Telegram bot's webhook (kind ``telegram``): PROTOCOLS.md §4."""

from adapters.telegram.translate import translate

__all__ = ["translate"]
