"""The morning report's section of inquiries nobody answered.

A form, chat, messenger or e-mail inquiry that came in the report's window and
that has had neither a reply in its conversation nor an outbound call to the
person since. Inquiries with no way to reply (``unreachable``) are only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from daemon.domain import readable
from daemon.report.limits import more_text
from daemon.report.window import Window
from daemon.store.queries import q
from daemon.store.repository import Repository, translated_errors

CHANNEL_NAMES = {"web_form": "заявка с сайта", "chat": "чат на сайте", "telegram": "Telegram", "vk": "ВКонтакте",
                 "email": "e-mail", "api": "API", "max": "MAX", "whatsapp": "WhatsApp", "avito": "Авито",
                 "instagram": "Instagram", "viber": "Viber"}
FIELDS = ("communication_id", "channel", "source", "started_at", "contact_id", "contact_name", "phone", "email",
          "ad_source", "responsible_extension", "responsible_name", "excerpt")


@dataclass(frozen=True)
class UnansweredInquiry:
    communication_id: int
    channel: str
    source: str | None
    started_at: datetime
    contact_id: int
    contact_name: str | None
    phone: str | None
    email: str | None
    ad_source: str | None
    responsible_extension: str | None
    responsible_name: str | None
    excerpt: str | None


@dataclass(frozen=True)
class InquirySection:
    rows: tuple[UnansweredInquiry, ...] = ()  # the first ones, up to the report's limit
    unreachable: int = 0
    total: int | None = None  # all of them; None: the rows are all

    @property
    def count(self) -> int:
        return len(self.rows) if self.total is None else self.total

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


async def unanswered_inquiries(repo: Repository, window: Window, *, limit: int) -> InquirySection:
    """The window's unanswered inquiries, the first ``limit`` of them listed, all of them counted."""
    with translated_errors():
        rows = await repo.pool.fetch(q("unanswered_inquiries"), window.since, window.until, limit)
        unreachable = await repo.pool.fetchval(q("unreachable_inquiries"), window.since, window.until)
    total = rows[0]["total"] if rows else 0
    return InquirySection(tuple(UnansweredInquiry(**{k: r[k] for k in FIELDS}) for r in rows), unreachable,
                          total)


def _who(row: UnansweredInquiry) -> str:
    return " ".join(p for p in (row.contact_name, row.phone, row.email) if p) or f"контакт #{row.contact_id}"


def _manager(row: UnansweredInquiry) -> str:
    if not row.responsible_extension:
        return "без ответственного"
    name = row.responsible_name
    return f"{name} (доб. {row.responsible_extension})" if name else f"доб. {row.responsible_extension}"


def summary(section: InquirySection) -> str:
    return (f"Обращения без ответа: {section.count}"
            + (f" (и ещё {section.unreachable} без способа ответить)" if section.unreachable else ""))


def section_text(section: InquirySection, local: Any) -> list[str]:
    """Lines for the text report; ``local`` turns a UTC time into office time. None without inquiries."""
    if not section.rows and not section.unreachable:
        return []
    lines = ["", summary(section)]
    for row in section.rows:
        excerpt = (row.excerpt or "").replace("\n", " ")[:80]
        started = readable.moment(local(row.started_at), year=False)
        lines.append(f"  {started}  {CHANNEL_NAMES.get(row.channel, row.channel)}"
                     f" ({row.source or '—'})  {_who(row)}  [{_manager(row)}]  {excerpt}")
    if section.more:
        lines.append(f"  {more_text(section.more)}")
    return lines


def section_html(section: InquirySection, local: Any) -> list[str]:
    if not section.rows and not section.unreachable:
        return []
    parts = [f"<h2>{escape(summary(section))}</h2>"]
    if not section.rows:
        return parts
    parts.append("<table><thead><tr><th>Когда</th><th>Канал</th><th>Кто</th><th>Ответственный</th>"
                 "<th>Реклама</th><th>Написал</th></tr></thead><tbody>")
    for row in section.rows:
        cells = [readable.moment(local(row.started_at), year=False),
                 f"{CHANNEL_NAMES.get(row.channel, row.channel)} ({row.source or '—'})", _who(row), _manager(row),
                 row.ad_source or "—", row.excerpt or ""]
        parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    parts.append("</tbody></table>")
    if section.more:
        parts.append(f'<p class="more">{escape(more_text(section.more))}</p>')
    return parts


def section_json(section: InquirySection, iso: Any) -> dict[str, Any]:
    return {
        "unreachable": section.unreachable,
        "total": section.count,
        "more": section.more,
        "rows": [{k: (iso(getattr(r, k)) if k == "started_at" else getattr(r, k)) for k in FIELDS}
                 for r in section.rows],
    }
