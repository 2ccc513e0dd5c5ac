"""VK ad lead forms: the Callback API's ``lead_forms_new``, on the same server as ``message_new``.

The object as VK SDKs read it (SevereCloud/vksdk ``LeadFormsNewObject``; VK's own
schema has the event type but no object), the keys as https://dev.vk.com/en/method/leadForms.create
documents them; examples in tests/fixtures/channels/vk_lead_forms_new*.json:

``object{lead_id, group_id, user_id, form_id, form_name, ad_id, answers[{key,
question, answer}]}``. The standard keys give the person: ``first_name``,
``patronymic_name``, ``last_name``, ``phone_number``, ``email``; every other
answer (a custom question, ``age``, ``location``...) becomes a
``question: answer`` line of the text. In the event ``answer`` is a string;
``leadForms.getLeads`` gives ``{key?, value}`` or a list of them (checkboxes):
all three are read.

The dedup key is the lead (``lead:<group_id>:<lead_id>``, unique within the
community), so a resent notification with another ``event_id`` is one lead.
The form's name is the lead's ``utm_source`` and ``ad_id`` its ``utm_content``:
``[utm_sources]`` may name an ad source by the form's name (lower-cased, as
every key there), else the source's own ``ad_source`` applies.
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, obj, objects, text
from daemon.domain.inquiry import Inquiry, Utm
from daemon.domain.replies import ReplyAddress

NAME_KEYS = ("first_name", "patronymic_name", "last_name")
OWN_KEYS = frozenset({*NAME_KEYS, "phone_number", "email"})
LEAD_FORM_MEDIUM = "vk_lead_form"


def lead_form(event: dict[str, Any], delivery: Delivery, answer: Reply) -> Translated:
    lead = obj(event.get("object"))
    notes: list[str] = []
    answers = _answers(lead)
    user_id = text(lead.get("user_id"))
    phone, email = answers.get("phone_number"), answers.get("email")
    if not (user_id or phone or email):
        raise Malformed("object.user_id, a phone_number or an email answer is required: the way to reply")
    ad_id = text(lead.get("ad_id"))
    inquiry = Inquiry(
        channel="vk", source=delivery.source, external_id=_external_id(event, lead, notes)[:500],
        received_at=delivery.received_at,
        name=" ".join(answers[k] for k in NAME_KEYS if answers.get(k)) or None,
        phones=(phone,) if phone else (), emails=(email,) if email else (), vk_id=user_id,
        text=_text(lead),
        # The person's id is the peer of a private dialog (901 if they never allowed the community's messages).
        reply_to=ReplyAddress(to=user_id[:500]) if user_id else None,
        utm=Utm(source=text(lead.get("form_name")), medium=LEAD_FORM_MEDIUM, content=ad_id),
    )
    if not user_id:
        notes.append("object.user_id is missing: the lead is known by its answers only")
    return Translated(inquiry, answer, notes=tuple(notes))


def _external_id(event: dict[str, Any], lead: dict[str, Any], notes: list[str]) -> str:
    group = text(lead.get("group_id")) or text(event.get("group_id")) or "-"
    lead_id = text(lead.get("lead_id"))
    if lead_id is not None:
        return f"lead:{group}:{lead_id}"
    event_id = text(event.get("event_id"))
    if event_id is None:
        raise Malformed("object.lead_id (or event_id) is required: the dedup key")
    notes.append("object.lead_id is missing: deduplicated by event_id")
    return event_id


def _value(answer: Any) -> str | None:
    """A string; ``{key?, value}``; or a list of those (a checkbox question)."""
    if isinstance(answer, list):
        values = [_value(item) for item in answer]
        return ", ".join(v for v in values if v) or None
    if isinstance(answer, dict):
        return text(answer.get("value"))
    return text(answer)


def _answers(lead: dict[str, Any]) -> dict[str, str]:
    """The standard answers by key (the first of each)."""
    found: dict[str, str] = {}
    for item in objects(lead.get("answers")):
        key, value = text(item.get("key")), _value(item.get("answer"))
        if key in OWN_KEYS and value and key not in found:
            found[key] = value
    return found


def _text(lead: dict[str, Any]) -> str | None:
    """The form's name, then every other answer as ``question: answer``."""
    lines = []
    if form := text(lead.get("form_name")):
        lines.append(f"Лид-форма ВКонтакте: {form}")
    for item in objects(lead.get("answers")):
        value = _value(item.get("answer"))
        if value and text(item.get("key")) not in OWN_KEYS:
            lines.append(f"{text(item.get('question')) or text(item.get('key')) or '?'}: {value}")
    return "\n".join(lines) or None
