"""The pure parts of replies: when the office opens next, e-mail subjects and threading, and what each
provider's answer means for the message."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from adapters.email.parse import parse_email
from adapters.email.reply import build_message, reply_subject
from adapters.replying import Answer
from adapters.telegram.reply import outcome as telegram_outcome
from adapters.vk.reply import outcome as vk_outcome
from config.settings import Settings
from daemon.domain.replies import Delivered, OutgoingReply, Refused, ReplyAddress, RetryLater
from daemon.inquiries.autoreply import next_open, when_text
from daemon.inquiries.outbox import fill
from daemon.routing.policy import OfficeHours
from tests.support.messengers import example
from tests.support.paths import CHANNEL_FIXTURES

MSK = ZoneInfo("Europe/Moscow")
WEEK = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
        "fri": "09:00-17:00"}


def hours(holidays: tuple[date, ...] = ()) -> OfficeHours:
    return OfficeHours.from_settings(Settings(office_hours=WEEK, holidays=list(holidays)))


@pytest.mark.parametrize(("at", "expected", "text"), [
    ("2026-12-04T17:55", "2026-12-07T09:00", "в понедельник в 09:00"),  # Friday after closing
    ("2026-12-05T10:00", "2026-12-07T09:00", "в понедельник в 09:00"),  # Saturday
    ("2026-12-07T07:30", "2026-12-07T09:00", "сегодня в 09:00"),        # Monday before opening
    ("2026-12-07T19:00", "2026-12-08T09:00", "во вторник в 09:00"),     # Monday evening
])
def test_next_open_over_evenings_and_weekends(at: str, expected: str, text: str) -> None:
    moment = datetime.fromisoformat(at).replace(tzinfo=MSK)
    opening = next_open(hours(), moment)
    assert opening == datetime.fromisoformat(expected).replace(tzinfo=MSK)
    assert when_text(opening, moment) == text


def test_holidays_are_skipped_and_a_long_one_names_the_date() -> None:
    moment = datetime(2026, 12, 31, 19, 0, tzinfo=MSK)
    new_year = tuple(date(2027, 1, d) for d in range(1, 11))
    opening = next_open(hours(new_year), moment)
    assert opening == datetime(2027, 1, 11, 9, 0, tzinfo=MSK)
    assert when_text(opening, moment) == "11 января в 09:00"


def test_an_office_that_never_opens_has_no_next_open() -> None:
    assert next_open(OfficeHours.from_settings(Settings()), datetime(2026, 12, 7, tzinfo=MSK)) is None


@pytest.mark.parametrize(("subject", "expected"), [
    ("Заявка на тур", "Re: Заявка на тур"),
    ("Re: Заявка на тур", "Re: Заявка на тур"),
    ("RE: Re[2]: Ответ: Заявка", "Re: Заявка"),
    (None, "Ваша заявка"),
    ("", "Ваша заявка"),
])
def test_the_reply_subject_gets_one_re(subject: str | None, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_threading_headers_follow_the_customers_message() -> None:
    address = ReplyAddress(to="anna@example.ru", thread={"message_id": "<b@x>", "references": "<a@x>",
                                                           "subject": "Тур"})
    letter = build_message(OutgoingReply(message_id=7, channel="email", source="mail", address=address, text="Да"),
                           sender="Агентство <info@agency.ru>")
    assert (letter["In-Reply-To"], letter["References"], letter["Subject"]) == ("<b@x>", "<a@x> <b@x>", "Re: Тур")
    assert letter["Message-ID"].endswith("@agency.ru>") and "Auto-Submitted" not in letter
    auto = build_message(OutgoingReply(message_id=8, channel="email", source="mail", address=address, text="Да",
                                       extras={"auto_submitted": "auto-replied"}), sender="info@agency.ru")
    assert auto["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(("answer", "expected"), [
    (Answer(200, {"ok": True, "result": {"message_id": 5}}), Delivered("5")),
    (Answer(429, {"ok": False, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
     RetryLater("Too Many Requests: retry after 7", after_s=7.0)),
    (Answer(502, None), RetryLater("HTTP 502")),
    (Answer(403, {"ok": False, "description": "Forbidden: bot was blocked by the user"}),
     Refused("Forbidden: bot was blocked by the user")),
    (Answer(400, {"ok": False, "description": "Bad Request: chat not found"}), Refused("Bad Request: chat not found")),
])
def test_telegram_answers(answer: Answer, expected: object) -> None:
    assert telegram_outcome(answer) == expected


@pytest.mark.parametrize(("answer", "expected"), [
    (Answer(200, {"response": 318}), Delivered("318")),
    (Answer(200, {"error": {"error_code": 9, "error_msg": "Flood control"}}), RetryLater("9: Flood control")),
    (Answer(200, {"error": {"error_code": 6, "error_msg": "Too many requests per second"}}),
     RetryLater("6: Too many requests per second", after_s=1.0)),
    (Answer(200, {"error": {"error_code": 901, "error_msg": "Can't send messages for users without permission"}}),
     Refused("901: Can't send messages for users without permission")),
    (Answer(503, None), RetryLater("HTTP 503")),
])
def test_vk_answers(answer: Answer, expected: object) -> None:
    assert vk_outcome(answer) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("telegram-send-message-429", RetryLater("Too Many Requests: retry after 7", after_s=7.0)),
    ("telegram-send-message-blocked", Refused("Forbidden: bot was blocked by the user")),
])
def test_the_documented_telegram_answers(name: str, expected: object) -> None:
    response = example(name)["response"]
    assert telegram_outcome(Answer(response["status"], response["body"])) == expected


def test_the_documented_vk_answers() -> None:
    response = example("vk-messages-send")["response"]
    assert vk_outcome(Answer(response["status"], response["body"])) == Delivered("318")
    assert vk_outcome(Answer(200, response["body_if_not_allowed"])) == Refused(
        "901: Can't send messages for users without permission")


def test_templates_fill_only_their_own_placeholders() -> None:
    assert fill("Здравствуйте, {name}! {manager} {x} {}", {"name": "Анна", "manager": None}) == \
        "Здравствуйте, Анна!  {x} {}"


def test_an_auto_submitted_email_is_no_inquiry_so_no_auto_reply_can_answer_it() -> None:
    """The auto-reply is queued only when an inquiry is filed; an e-mail marked Auto-Submitted (or
    Precedence: bulk|list) never becomes one."""
    raw = (CHANNEL_FIXTURES / "email_autoreply_koi8r.eml").read_bytes()
    parsed = parse_email(raw, source="mail")
    assert parsed.inquiry is None and parsed.skip_reason == "auto_reply"
    bulk = b"From: list@example.ru\r\nTo: info@agency.ru\r\nPrecedence: bulk\r\nSubject: News\r\n\r\nHello\r\n"
    assert parse_email(bulk, source="mail").skip_reason == "bulk"
