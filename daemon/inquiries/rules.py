"""Which ad source («Реклама») an inquiry brings, from the reloadable settings.

A named referrer makes it «Рекомендация»; else the UTM ``utm_source`` through
``[utm_sources]`` (compared lower-cased: Tilda's cookie lower-cases it); else
the source's own ``ad_source``.
"""

from __future__ import annotations

from config.settings import Settings
from daemon.inquiries.model import Inquiry

REFERRAL_AD_SOURCE = "Рекомендация"
SOURCE_CHANNELS = {"tilda": "web_form", "form": "web_form", "jivo": "chat", "telegram": "telegram",
                   "vk": "vk", "email": "email", "api": "api"}


def has_referrer(inquiry: Inquiry) -> bool:
    ref = inquiry.referrer
    return ref is not None and bool((ref.phone or "").strip() or (ref.email or "").strip())


def ad_source_for(inquiry: Inquiry, settings: Settings) -> str | None:
    if has_referrer(inquiry):
        return REFERRAL_AD_SOURCE
    utm_source = (inquiry.utm.source or "").strip().lower()
    if utm_source and utm_source in settings.utm_sources:
        return settings.utm_sources[utm_source]
    source = settings.sources.get(inquiry.source)
    return source.ad_source if source is not None else None
