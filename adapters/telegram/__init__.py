"""A Telegram bot's webhook (kind ``telegram``): https://core.telegram.org/bots/api#setwebhook."""

from adapters.telegram.translate import translate

__all__ = ["translate"]
