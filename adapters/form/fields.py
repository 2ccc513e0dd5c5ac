"""The field names forms use for one thing (tests/fixtures/channels/form_*.json), compared case-insensitively."""

from __future__ import annotations

NAME = ("name", "fio", "full_name", "fullname", "имя", "фио")
PHONE = ("phone", "tel", "telephone", "mobile", "телефон")
EMAIL = ("email", "e-mail", "mail", "почта")
TEXT = ("message", "comment", "comments", "text", "question", "сообщение", "комментарий")
PAGE_URL = ("page_url", "page", "url")
EXTERNAL_ID = ("submission_id", "external_id", "request_id", "id")
# A form field naming who recommended us («Рекомендация»). Not "referrer": forms
# put the browser's HTTP referrer URL there.
REFERRER_NAME = ("referrer_name", "recommended_by", "рекомендатель")
REFERRER_PHONE = ("referrer_phone", "recommended_by_phone", "телефон_рекомендателя")
REFERRER_EMAIL = ("referrer_email",)
