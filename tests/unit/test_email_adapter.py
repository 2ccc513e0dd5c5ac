"""The e-mail adapter: a raw message becomes the inquiry its sender meant, or is skipped.

Every e-mail example in tests/fixtures/channels/ is checked against its
``expect``; the other cases are built here from the same RFC rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.email.decode import decode_bytes, guess_cyrillic, html_to_text
from adapters.email.parse import parse_email
from adapters.email.phones import find_phone, find_phones
from tests.support.paths import CHANNEL_FIXTURES

EXAMPLES = sorted(p.stem for p in CHANNEL_FIXTURES.glob("email_*.json"))
AGENCY = ("info@tury-primer.ru", "noreply@tury-primer.ru", "zayavki@tury-primer.ru")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def example(name: str) -> tuple[bytes, dict]:
    spec = json.loads((CHANNEL_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    raw = (CHANNEL_FIXTURES / spec["request"]["body_file"]).read_bytes()
    return raw, spec["expect"]


def check_expect(parsed, expect: dict) -> None:
    """The shared check of an example's ``expect`` (also used by the Dovecot replay)."""
    assert parsed.external_id == expect["dedup_id"]
    if "subject" in expect:
        assert parsed.subject == expect["subject"]
    if expect.get("skip"):
        assert parsed.inquiry is None and parsed.skip_reason is not None
        return
    inquiry = parsed.inquiry
    assert inquiry is not None, parsed.skip_reason
    assert inquiry.channel == "email"
    assert inquiry.external_id == expect["dedup_id"]
    assert inquiry.phones == ((expect["phone"],) if expect["phone"] else ())
    assert inquiry.emails == ((expect["email"],) if expect["email"] else ())
    assert inquiry.name == expect["name"]
    if expect.get("text_contains"):
        assert expect["text_contains"] in (inquiry.text or "")
    assert inquiry.utm.source == expect["utm_source"]
    if expect.get("ignore_from"):
        assert expect["ignore_from"] not in inquiry.emails


def test_every_example_is_here() -> None:
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_meet_their_expectations(name: str) -> None:
    raw, expect = example(name)
    check_expect(parse_email(raw, source="mail", own_addresses=AGENCY, now=NOW), expect)


@pytest.mark.parametrize("name", EXAMPLES)
def test_parsing_is_stable(name: str) -> None:
    """The same bytes always give the same inquiry (the dedup key and everything else)."""
    raw, _ = example(name)
    assert parse_email(raw, source="mail", now=NOW) == parse_email(raw, source="mail", now=NOW)


def test_the_client_is_in_reply_to_even_when_from_is_not_known_as_ours() -> None:
    raw, _ = example("email_multipart_reply_to")
    inquiry = parse_email(raw, source="mail", now=NOW).inquiry
    assert inquiry is not None and inquiry.emails == ("sergey.volkov@mail.ru",)


def message(headers: dict[str, str], body: bytes = b"", *, charset: str | None = "utf-8",
            ctype: str = "text/plain", cte: str = "8bit") -> bytes:
    head = {"Date": "Mon, 12 May 2025 10:00:00 +0300", "To": "info@tury-primer.ru",
            "MIME-Version": "1.0"} | headers
    if ctype:
        head["Content-Type"] = ctype + (f"; charset={charset}" if charset else "")
        head["Content-Transfer-Encoding"] = cte
    lines = [f"{k}: {v}".encode() for k, v in head.items() if v is not None]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


LETTER = "Здравствуйте! Хотим в Грецию, звоните 8 (903) 555-12-34. Ольга"


@pytest.mark.parametrize(("label", "written_in"), [
    ("koi8-r", "koi8-r"), ("windows-1251", "cp1251"),
    ("koi8-r", "cp1251"), ("windows-1251", "koi8-r"),  # mislabelled either way
    (None, "cp1251"), ("us-ascii", "koi8-r"), ("utf-8", "cp1251"), ("windows-1251", "utf-8"),
])
def test_russian_bodies_decode_whatever_their_label(label: str | None, written_in: str) -> None:
    raw = message({"From": "olga@example.ru", "Message-ID": "<c@x>"}, LETTER.encode(written_in), charset=label)
    inquiry = parse_email(raw, source="mail", now=NOW).inquiry
    assert inquiry is not None
    assert LETTER in (inquiry.text or "")
    assert inquiry.phones == ("+79035551234",)


def test_a_raw_8bit_subject_and_a_mislabelled_encoded_word_decode() -> None:
    words = "=?koi8-r?B?" + __import__("base64").b64encode("Ольга Петрова".encode("cp1251")).decode() + "?="
    head = (b"From: " + words.encode() + b" <olga@example.ru>\r\nSubject: "
            + "Тур в Грецию".encode("cp1251") + b"\r\nMessage-ID: <s@x>\r\n")
    raw = head + b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    parsed = parse_email(raw, source="mail", now=NOW)
    assert parsed.subject == "Тур в Грецию"
    assert parsed.inquiry is not None and parsed.inquiry.name == "Ольга Петрова"


def test_html_only_mail_becomes_readable_text() -> None:
    html = ("<html><head><style>p{color:red}</style></head><body><p>Имя:&nbsp;Ольга</p>"
            "<table><tr><td>Телефон:</td><td>+7 903 555-12-34</td></tr></table>"
            "<script>var x = '+7 916 000-00-00';</script><br>Спасибо &amp; до связи</body></html>")
    raw = message({"From": "olga@example.ru", "Message-ID": "<h@x>"}, html.encode(), ctype="text/html")
    inquiry = parse_email(raw, source="mail", now=NOW).inquiry
    assert inquiry is not None
    assert inquiry.text == "Имя: Ольга\n\nТелефон: +7 903 555-12-34\n\nСпасибо & до связи"
    assert inquiry.phones == ("+79035551234",)


def test_attachments_are_not_the_clients_words() -> None:
    boundary = "b1"
    body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nСмотрите паспорт во вложении\r\n"
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; "
            f"filename=\"p.txt\"\r\n\r\nпаспортные данные 8 916 123-45-67\r\n--{boundary}--\r\n").encode()
    raw = message({"From": "olga@example.ru", "Message-ID": "<a@x>"}, body,
                  ctype=f'multipart/mixed; boundary="{boundary}"', charset=None, cte="7bit")
    inquiry = parse_email(raw, source="mail", now=NOW).inquiry
    assert inquiry is not None
    assert inquiry.text == "Смотрите паспорт во вложении" and inquiry.phones == ()


@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto-Submitted": "auto-generated"}, "auto_reply"),
    ({"Auto-Submitted": "auto-replied; owner-email=\"x@y\""}, "auto_reply"),
    ({"X-Autoreply": "yes"}, "auto_reply"),
    ({"Precedence": "bulk"}, "bulk"),
    ({"Precedence": "Junk"}, "bulk"),
    ({"Precedence": "list"}, "bulk"),
    ({"From": "MAILER-DAEMON@mx.example.ru"}, "bounce"),
    ({"From": "Mail Delivery System <postmaster@example.ru>"}, "bounce"),
    ({"Return-Path": "<>"}, "bounce"),
])
def test_machine_made_mail_is_skipped(headers: dict[str, str], reason: str) -> None:
    raw = message({"From": "olga@example.ru", "Message-ID": "<m@x>"} | headers, LETTER.encode())
    parsed = parse_email(raw, source="mail", now=NOW)
    assert parsed.inquiry is None and parsed.skip_reason == reason


def test_a_delivery_report_is_a_bounce() -> None:
    body = (b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed 8 916 123-45-67\r\n"
            b"--r\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--r--\r\n")
    raw = message({"From": "robot@mx.example.ru", "Message-ID": "<r@x>"}, body,
                  ctype='multipart/report; report-type=delivery-status; boundary="r"', charset=None)
    assert parse_email(raw, source="mail", now=NOW).skip_reason == "bounce"


def test_auto_submitted_no_is_a_person() -> None:
    raw = message({"From": "olga@example.ru", "Message-ID": "<n@x>", "Auto-Submitted": "no"}, LETTER.encode())
    assert parse_email(raw, source="mail", now=NOW).inquiry is not None


def test_the_agencys_own_mail_is_skipped_and_its_address_never_identifies() -> None:
    own = message({"From": "Менеджер <INFO@tury-primer.ru>", "Message-ID": "<o@x>"}, "Отправил КП".encode())
    assert parse_email(own, source="mail", own_addresses=AGENCY, now=NOW).skip_reason == "own_address"
    # A form-mailer from our own address without Reply-To still carries the client's phone.
    form = message({"From": "noreply@tury-primer.ru", "Message-ID": "<f@x>"}, LETTER.encode())
    inquiry = parse_email(form, source="mail", own_addresses=AGENCY, now=NOW).inquiry
    assert inquiry is not None and inquiry.emails == () and inquiry.phones == ("+79035551234",)


def test_own_phones_are_never_the_clients() -> None:
    text = "Спасибо, что позвонили нам на +7 495 765-00-11. Мой: 8 926 444-55-66"
    raw = message({"From": "olga@example.ru", "Message-ID": "<p@x>"}, text.encode())
    inquiry = parse_email(raw, source="mail", own_phones=["+74957650011"], now=NOW).inquiry
    assert inquiry is not None and inquiry.phones == ("+79264445566",)


def test_without_message_id_the_id_is_a_hash_that_ignores_relay_headers() -> None:
    raw = message({"From": "olga@example.ru"}, LETTER.encode())
    relayed = b"Received: from mx1 by mx2; Mon, 12 May 2025 10:00:01 +0300\r\n" + raw
    first = parse_email(raw, source="mail", now=NOW).external_id
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert parse_email(relayed, source="mail", now=NOW).external_id == first
    other = message({"From": "olga@example.ru"}, (LETTER + "!").encode())
    assert parse_email(other, source="mail", now=NOW).external_id != first


def test_a_future_date_is_clamped_and_a_bad_one_is_now() -> None:
    future = message({"From": "o@example.ru", "Message-ID": "<d1@x>", "Date": "Fri, 1 Jan 2100 00:00:00 +0000"}, b"x")
    bad = message({"From": "o@example.ru", "Message-ID": "<d2@x>", "Date": "yesterday"}, b"x")
    assert parse_email(future, source="mail", now=NOW).inquiry.received_at == NOW  # type: ignore[union-attr]
    assert parse_email(bad, source="mail", now=NOW).inquiry.received_at == NOW  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "phone"), [
    ("Мой телефон 8 916 222 33 44, лучше после обеда", "+79162223344"),
    ("Телефон: +7 (999) 876-54-32", "+79998765432"),
    ("звоните 8(912)345-67-89", "+79123456789"),
    ("79161234567", "+79161234567"),
    ("в тексте 8-926-444-55-66.", "+79264445566"),
    ("2 взрослых 9161234567 10 20 мая", "+79161234567"),
    ("(495) 123-45-67", "+74951234567"),
    ("вылет 10–20 мая, бюджет до 200 000 руб.", None),
    ("Заказ № 89161234567 от 12.05.2025", None),
    ("номер заказа: 9161234567", None),
    ("ИНН 7701234567", None),
    ("дата 2025-05-12 10:30", None),
    ("12.05.2025", None),
    ("ссылка https://x.ru/p/89161234567", None),
    ("счёт 4951234567", None),
    ("1234567890", None),
])
def test_phones_in_free_text(text: str, phone: str | None) -> None:
    assert find_phone(text) == phone


def test_every_phone_once_in_order() -> None:
    assert find_phones("8 916 123-45-67 или +7 916 123 45 67, или 8-903-555-12-34") == [
        "+79161234567", "+79035551234"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_no_bytes_break_the_parser(raw: bytes) -> None:
    """Whatever arrives, the adapter answers: an inquiry or a skip, never an exception."""
    parsed = parse_email(raw, source="mail", now=NOW)
    assert parsed.external_id
    assert (parsed.inquiry is None) == (parsed.skip_reason is not None)


def test_cyrillic_guess_and_html() -> None:
    assert guess_cyrillic("Привет, как дела".encode("cp1251")) == "cp1251"
    assert guess_cyrillic("Привет, как дела".encode("koi8-r")) == "koi8-r"
    assert decode_bytes("ёжик".encode(), "windows-1251") == "ёжик"
    assert html_to_text("<div>a</div><div>b &lt;c&gt;</div>") == "a\n\nb <c>"


# Words as people write them: small letters, a capital first letter, sometimes all capitals.
_WORDS = ("Здравствуйте", "хотим", "в", "Турцию", "отель", "вылет", "из", "Москвы", "бюджет", "до",
          "рублей", "двое", "взрослых", "ребёнок", "Анталья", "всё", "включено", "у", "моря", "СРОЧНО",
          "спасибо", "Ольга", "Пётр", "Щукин", "ЭКОНОМ", "съезд", "объём", "цена,", "май!", "ТУР.")
_RUSSIAN = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12).map(" ".join)
_MOBILES = st.integers(min_value=9_000_000_000, max_value=9_999_999_999).map(lambda n: f"+7{n}")


@settings(max_examples=150, deadline=None)
@given(name=_RUSSIAN, subject=_RUSSIAN, words=_RUSSIAN, phone=_MOBILES,
       charset=st.sampled_from(["utf-8", "windows-1251", "koi8-r"]),
       cte=st.sampled_from(["quoted-printable", "base64", "8bit"]),
       html=st.booleans(), reply_to=st.booleans())
def test_any_russian_letter_reads_back(name: str, subject: str, words: str, phone: str, charset: str,
                                       cte: str, html: bool, reply_to: bool) -> None:
    """A letter written by a mail client in any of the usual charsets and encodings gives
    back its author (Reply-To over From), its words and the phone written in it."""
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.policy import SMTP

    from daemon.domain.phones import format_for_people

    msg = EmailMessage()
    client = Address(display_name=name.strip(), addr_spec="client@example.ru")
    msg["From"] = Address(display_name="Сайт", addr_spec="noreply@tury-primer.ru") if reply_to else client
    if reply_to:
        msg["Reply-To"] = client
    msg["Subject"] = subject
    msg["Message-ID"] = "<prop@example.ru>"
    text = f"{words}\nТелефон: {format_for_people(phone)}\n"
    body = f"<p>{words}</p><p>Телефон: {format_for_people(phone)}</p>" if html else text
    msg.set_content(body.encode(charset), maintype="text", subtype="html" if html else "plain",
                    cte=cte, params={"charset": charset})
    parsed = parse_email(msg.as_bytes(policy=SMTP), source="mail", own_addresses=AGENCY, now=NOW)
    inquiry = parsed.inquiry
    assert inquiry is not None
    assert inquiry.emails == ("client@example.ru",)
    # Python's own encoder folds long headers with the space between two encoded
    # words, which RFC 2047 §6.2 tells the reader to drop: compare without spaces.
    assert squeezed(inquiry.name) == squeezed(name)
    assert inquiry.phones == (phone,)
    assert squeezed(words) in squeezed(inquiry.text)
    assert squeezed(parsed.subject) == squeezed(subject)


def squeezed(text: str | None) -> str:
    return "".join((text or "").split())
