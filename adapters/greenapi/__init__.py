"""WhatsApp through Green-API (kind ``greenapi``):
https://green-api.com/en/docs/api/receiving/notifications-format/."""

from adapters.greenapi.translate import translate

__all__ = ["translate"]
