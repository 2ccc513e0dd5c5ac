"""WhatsApp (and the other chats) through Wazzup24 (kind ``wazzup``):
https://wazzup24.com/help/api-documentation-en/webhooks/."""

from adapters.wazzup.translate import translate

__all__ = ["translate"]
