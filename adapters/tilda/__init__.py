"""Tilda's form Webhook (kind ``tilda``): https://help-ru.tilda.cc/forms/webhook."""

from adapters.tilda.translate import translate

__all__ = ["translate"]
