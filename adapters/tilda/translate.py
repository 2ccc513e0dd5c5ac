"""Tilda: ``?token=`` in the URL (the Webhook has no signature), ``test=test`` connection test,
fields named by the site owner, ``tranid`` per submission, UTM in hidden fields or the TILDAUTM cookie."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from adapters.form.translate import form_inquiry
from daemon.domain.delivery import (
    UTM_KEYS,
    Delivery,
    Reply,
    Translated,
    form_fields,
    lookup,
    require_token,
    text,
    utm_present,
)
from daemon.domain.inquiry import Utm

ANSWER = Reply(200, "ok")
TEST_BODY = b"test=test"


def translate(delivery: Delivery) -> Translated:
    require_token(delivery)
    if delivery.body.strip() == TEST_BODY:
        return Translated(None, ANSWER)  # the connection test: exactly this body, nothing to file
    fields = form_fields(delivery)
    inquiry = form_inquiry(delivery, fields, channel="web_form", external_id=lookup(fields, ("tranid",)))
    if not utm_present(inquiry.utm):
        cookie_utm = utm_from_cookies(text(lookup(fields, ("cookies",)), limit=None))
        if utm_present(cookie_utm):
            inquiry = inquiry.model_copy(update={"utm": cookie_utm})
    return Translated(inquiry, ANSWER)


def utm_from_cookies(cookies: str | None) -> Utm:
    """``TILDAUTM=utm_source%3Dyandex%7C%7C%7C...`` -> Utm(source="yandex", ...).

    Pairs are joined by ``|||`` (an HTML-escaped ``|||amp;`` is seen too).
    """
    if not cookies:
        return Utm()
    for cookie in cookies.split(";"):
        name, _, value = cookie.strip().partition("=")
        if name.strip().upper() != "TILDAUTM":
            continue
        found: dict[str, Any] = {}
        for pair in unquote(value).replace("|||amp;", "|||").split("|||"):
            key, _, val = pair.partition("=")
            key = key.strip().lower().removeprefix("utm_")
            if key in UTM_KEYS and key not in found:
                found[key] = text(unquote(val))
        return Utm(**found)
    return Utm()
