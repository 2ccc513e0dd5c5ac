"""Which ad source («Реклама») an inquiry brings, from the reloadable settings.

A named referrer makes it «Рекомендация»; else the UTM ``utm_source`` through
``[utm_sources]`` (compared lower-cased: Tilda's cookie lower-cases it); for a
Telegram chat opened by an ad's ``t.me/<bot>?start=<payload>`` link, whose
first message is ``/start <payload>`` (a MAX ``bot_started`` reads the same), the
payload through the same table; for an Avito chat about an ad, the ad
(``utm.content``, its ``item_id``) through the source's ``items``; else the
source's own ``ad_source``.
"""

from __future__ import annotations

from config.settings import Settings
from daemon.domain.inquiry import Inquiry

REFERRAL_AD_SOURCE = "Рекомендация"
SOURCE_CHANNELS = {"tilda": "web_form", "form": "web_form", "jivo": "chat", "telegram": "telegram",
                   "vk": "vk", "email": "email", "api": "api", "max": "max", "wazzup": "whatsapp",
                   "greenapi": "whatsapp", "avito": "avito"}
START_CHANNELS = ("telegram", "max")  # chats a deep link opens with ``/start <payload>``


def has_referrer(inquiry: Inquiry) -> bool:
    ref = inquiry.referrer
    return ref is not None and bool((ref.phone or "").strip() or (ref.email or "").strip())


def ad_source_for(inquiry: Inquiry, settings: Settings) -> str | None:
    if has_referrer(inquiry):
        return REFERRAL_AD_SOURCE
    utm_source = (inquiry.utm.source or "").strip().lower() or start_payload(inquiry)
    if utm_source and utm_source in settings.inquiries.utm_sources:
        return settings.inquiries.utm_sources[utm_source]
    source = settings.inquiries.sources.get(inquiry.source)
    if source is None:
        return None
    if inquiry.channel == "avito" and inquiry.utm.content and inquiry.utm.content in source.items:
        return source.items[inquiry.utm.content]
    return source.ad_source


def start_payload(inquiry: Inquiry) -> str | None:
    """``ya_turkey_may`` of a Telegram or MAX ``/start ya_turkey_may`` (the deep link's only attribution)."""
    if inquiry.channel not in START_CHANNELS or not inquiry.text or not inquiry.text.startswith("/start "):
        return None
    return inquiry.text.removeprefix("/start ").strip().lower() or None
