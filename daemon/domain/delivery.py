"""What the webhook handler hands a sender's adapter, and what the adapter hands back.

Adapters (``adapters/<sender>/``) are pure functions of a ``Delivery``: they
check the sender's secret (``Refused`` -> 403), read its words (``Malformed``
-> 400 with the reason; or ``daemon.domain.errors.BadInput`` for another 4xx and
details) and return the ``Inquiry`` (or, for a sender whose words are not an
inquiry, the PBX, the ready ``Envelope``) plus the exact answer the sender
expects once it is durable. A handshake or an event we do not use gives
neither, only the answer. The handler that serves them all is daemon/intake/webhooks.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from config.settings import SourceSettings
from daemon.domain import multipart
from daemon.domain.events import Envelope, ReplyStatusReported
from daemon.domain.inquiry import Inquiry, Utm

MAX_FIELD_CHARS = 2_000  # a name, a phone, a URL; longer is cut (free text is cut by the model)
UTM_KEYS = ("source", "medium", "campaign", "content", "term")


class Refused(Exception):
    """The sender did not prove itself (403); nothing is stored."""


class Malformed(Exception):
    """The body cannot be read, or lacks what the adapter cannot do without (400); ``str(exc)`` says why.

    An adapter requires only what it uses: a dedup key and a way to reply. Anything
    else missing goes into ``Translated.notes``, never a reason to drop a lead.
    """


@dataclass(frozen=True, kw_only=True)
class Delivery:
    source: str
    settings: SourceSettings | None  # an inquiry source's; None for the PBX (its adapter holds its keys)
    query: Mapping[str, str]
    headers: Mapping[str, str]
    content_type: str
    body: bytes
    received_at: datetime
    region: str = "RU"
    path: str = ""  # the rest of the URL under the sender's route (the PBX's event kind)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str | dict[str, Any] | None = None  # dict: JSON; str: text/plain; None: empty
    # When set, the body is ``{outcome_as: outcome}`` (``stored``, ``duplicate``, ``spooled``).
    outcome_as: str | None = None


@dataclass(frozen=True)
class Translated:
    inquiry: Inquiry | None
    reply: Reply
    replied_at: int | None = None  # when the agency's side wrote in it, Unix seconds
    # What the sender left out that the adapter could do without (logged, never a refusal).
    notes: tuple[str, ...] = ()
    # A sender whose words are not an inquiry (the PBX) hands the event ready to store.
    envelope: Envelope | None = None
    # A sender that batches (one Wazzup POST carries several messages and statuses):
    # the further inquiries, and the provider's states of our sent replies.
    more: tuple[Inquiry, ...] = ()
    statuses: tuple[ReplyStatusReported, ...] = ()

    @property
    def inquiries(self) -> tuple[Inquiry, ...]:
        return ((self.inquiry,) if self.inquiry is not None else ()) + self.more


# -- authentication ---------------------------------------------------------------------
def secret_matches(given: str | None, settings: SourceSettings | None) -> bool:
    """Constant-time comparison with the source's secret."""
    expected = settings.secret.get_secret_value() if settings is not None and settings.secret is not None else ""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_token(delivery: Delivery, *, allow_bearer: bool = True) -> None:
    """``?token=`` in the URL (or ``Authorization: Bearer``) must be the source's secret."""
    given = [delivery.query.get("token")]
    if allow_bearer:
        given.append(bearer(delivery.headers))
    require_secret(delivery, *given, what="token")


def require_secret(delivery: Delivery, *given: str | None, what: str) -> None:
    """One of ``given`` (where the sender puts it) must be the source's secret; else Refused naming ``what``."""
    if not any(secret_matches(g, delivery.settings) for g in given if g):
        raise Refused(f"missing or wrong {what}")


def signed_object(delivery: Delivery, *given: str | None, what: str) -> dict[str, Any]:
    """The prologue of a messenger's translate: the secret checked (``require_secret``), then
    the body read as a JSON object (``json_object``); nothing is read before the sender is proven."""
    require_secret(delivery, *given, what=what)
    return json_object(delivery.body)


# -- bodies ---------------------------------------------------------------------------
def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"body is not JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise Malformed("body must be a JSON object")
    return data


def form_fields(delivery: Delivery) -> dict[str, Any]:
    """A JSON object, a URL-encoded form or a multipart form (files ignored)."""
    ctype = delivery.content_type
    # A JSON object is JSON whatever the sender called it (text/plain is common in site scripts).
    if ctype == "application/json" or (ctype != "multipart/form-data" and delivery.body.lstrip()[:1] == b"{"):
        return json_object(delivery.body)
    if ctype == "multipart/form-data":
        return _multipart(delivery)
    try:
        text = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(key, value)
    if not fields and text.strip():
        raise Malformed("body is not a form (expected name=value&...)")
    return fields


def _multipart(delivery: Delivery) -> dict[str, Any]:
    try:
        return multipart.form_fields(delivery.headers.get("Content-Type", ""), delivery.body)
    except multipart.MultipartRefused as exc:
        raise Malformed(str(exc)) from None


# -- values ---------------------------------------------------------------------------
def text(value: Any, *, limit: int | None = MAX_FIELD_CHARS) -> str | None:
    """A string PostgreSQL can store (no NUL, no lone surrogates), trimmed; None when empty.

    Numbers become their decimal text (senders switch between "2198" and 2198);
    objects and lists are not text.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")
    value = unicodedata.normalize("NFC", value).strip()
    if limit is not None:
        value = value[:limit]
    return value or None


def lookup(fields: Mapping[str, Any], aliases: tuple[str, ...]) -> str | None:
    """The first non-empty value among ``aliases``, keys compared case-insensitively."""
    lowered: dict[str, Any] = {}
    for key, value in fields.items():
        lowered.setdefault(str(key).strip().lower(), value)
    for alias in aliases:
        found = text(lowered.get(alias), limit=None)
        if found:
            return found
    return None


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list; anything else is no list at all."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def utm_from_fields(fields: Mapping[str, Any]) -> Utm:
    return Utm(**{key: lookup(fields, (f"utm_{key}",)) for key in UTM_KEYS})


def utm_from_url(url: str | None) -> Utm:
    if not url:
        return Utm()
    try:
        query = dict(parse_qsl(urlsplit(url).query))
    except ValueError:
        return Utm()
    return utm_from_fields(query)


def utm_present(utm: Utm) -> bool:
    return any(getattr(utm, key) for key in UTM_KEYS)


def content_hash(*parts: str | None) -> str:
    """An external id for senders that give none: the same submission twice is one."""
    joined = "\x1f".join(p or "" for p in parts)
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def epoch(value: Any, *, default: datetime) -> datetime:
    """A sender's Unix time in seconds; the delivery time when absent or absurd."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        seconds = float(value)
    except ValueError:
        return default
    if not 946_684_800 <= seconds <= 4_102_444_800:  # 2000..2100
        return default
    return datetime.fromtimestamp(seconds, UTC)
