"""Bytes of a MIME part (or a raw header) to text, when the label is right and when it is not.

Russian mail still arrives in Windows-1251 and KOI8-R, sometimes labelled with
the other one, with none, or as UTF-8 it is not. Strict decoding with the
declared charset is tried first, then UTF-8, then the Cyrillic guess below.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from itertools import pairwise

CYRILLIC_SINGLE_BYTE = ("cp1251", "koi8-r")
# Labels that promise nothing about Russian 8-bit bytes (codec names): a message
# so labelled with bytes above 0x7F was written in a legacy charset and mislabelled.
_NO_PROMISE = {"ascii", "iso8859-1", "cp1252"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip('"').lower()).name
    except LookupError:
        return None


def guess_cyrillic(data: bytes) -> str:
    """``cp1251`` or ``koi8-r`` for 8-bit Russian text.

    The two charsets hold the same letters with the cases swapped (Windows-1251
    has а..я at 0xE0-0xFF, KOI8-R has А..Я there), so read the wrong way a
    capitalised word turns into "дНАПШИ": a capital right after a small letter,
    which real words almost never have. The reading with fewer of those wins;
    on a tie (all-lowercase text has none either way) the one with more small
    letters, since small letters outnumber capitals in any prose.
    """
    readings = {codec: data.decode(codec, errors="replace") for codec in ("cp1251", "koi8-r")}
    return min(readings, key=lambda codec: (_case_breaks(readings[codec]), -_small_letters(readings[codec])))


def _case_breaks(text: str) -> int:
    return sum(1 for a, b in pairwise(text) if "а" <= a <= "я" and "А" <= b <= "Я")


def _small_letters(text: str) -> int:
    return sum(1 for ch in text if "а" <= ch <= "я" or ch == "ё")


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text of ``data``: the declared charset if it fits, else UTF-8, else the Cyrillic guess.

    A single-byte Cyrillic label decodes any bytes without error, so it is not
    believed: valid UTF-8 is UTF-8 (legacy Russian text almost never is), and
    otherwise the bytes say whether they are Windows-1251 or KOI8-R, whatever
    the label (a KOI8-R label on Windows-1251 bytes is common).
    """
    if not any(b >= 0x80 for b in data):
        return data.decode("ascii")
    codec = _codec(declared)
    if codec is not None and codec not in CYRILLIC_SINGLE_BYTE and codec not in _NO_PROMISE:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(guess_cyrillic(data), errors="replace")


_SURROGATES = re.compile("[\udc80-\udcff]")


def repair_header(text: str) -> str:
    """A header with raw 8-bit bytes (no RFC 2047 words) comes back from the email
    package with surrogate escapes; decode those bytes as ``decode_bytes`` would."""
    if not _SURROGATES.search(text):
        return text
    data = text.encode("utf-8", errors="surrogateescape")
    return decode_bytes(data, None)


_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
               "ul", "ol", "blockquote", "pre", "hr", "section", "article", "header", "footer"}
_CELL_TAGS = {"td", "th"}
_HIDDEN_TAGS = {"script", "style", "head", "title"}


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: blocks and rows on their own lines, cells spaced."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.parts))


_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Collapse runs of spaces and of blank lines; CRLF becomes LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
