"""A ``multipart/form-data`` body read in one pass, within bounds.

The standard library's e-mail parser took time quadratic in the number of
parameters of a part's header: one part of 200 KB of ``; a=1`` parameters held
the event loop (every webhook, ``/ws`` and ``/health``) for 12 s. A web form
needs none of what that parser handles, so this reads only what a form sends:
parts split on the boundary (``bytes.split``, linear), each part's header
block (bounded), its ``Content-Disposition`` parameters (bounded, read in one
pass) and its value. A body past a bound is refused at once with the bound it
broke, before any work proportional to its size beyond the split.
"""

from __future__ import annotations

import base64
import binascii
import quopri

MAX_PARTS = 200  # a site's form has a few dozen fields at most
MAX_PART_HEADER_BYTES = 8190  # aiohttp's own limit for a request's header line
MAX_HEADER_PARAMS = 32  # Content-Disposition: form-data; name=...; filename=... needs three
MAX_BOUNDARY_CHARS = 70  # RFC 2046 section 5.1.1


class MultipartRefused(ValueError):
    """The body is not a readable ``multipart/form-data`` within the bounds; ``str()`` says why."""


def header_params(value: str, *, limit: int = MAX_HEADER_PARAMS) -> tuple[str, dict[str, str]]:
    """``'form-data; name="a;b"; x=1'`` -> ``("form-data", {"name": "a;b", "x": "1"})``, one pass.

    The first of a repeated parameter wins; more than ``limit`` parameters is MultipartRefused.
    """
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
            if len(items) > limit:
                raise MultipartRefused(f"a part's header has more than {limit} parameters")
        else:
            current.append(char)
    items.append("".join(current))
    params: dict[str, str] = {}
    for item in items[1:]:
        key, _, text = item.partition("=")
        params.setdefault(key.strip().lower(), text.strip())
    return items[0].strip().lower(), params


def boundary_of(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data; boundary=...`` header; MultipartRefused without one."""
    _, params = header_params(content_type)
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > MAX_BOUNDARY_CHARS:
        raise MultipartRefused("multipart body without a boundary (1 to 70 characters)")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise MultipartRefused("the multipart boundary must be ASCII") from None


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of the form (the first of a repeated name wins; files are ignored)."""
    delimiter = b"\n--" + boundary_of(content_type)
    segments = (b"\n" + body).split(delimiter, MAX_PARTS + 1)
    if len(segments) > MAX_PARTS + 1:
        raise MultipartRefused(f"more than {MAX_PARTS} parts in the form")
    fields: dict[str, str] = {}
    for segment in segments[1:]:  # the first is the preamble
        if segment.startswith(b"--"):
            break  # the closing delimiter
        found = _field(segment)
        if found is not None:
            fields.setdefault(*found)
    return fields


def _field(segment: bytes) -> tuple[str, str] | None:
    """One part after its delimiter line: (name, value), or None for a file or a nameless part."""
    _, newline, rest = segment.partition(b"\n")  # the rest of the delimiter line (transport padding)
    if not newline:
        return None
    head, value = _split_head(rest)
    headers = _headers(head)
    kind, params = header_params(headers.get("content-disposition", ""))
    name = params.get("name")
    if kind != "form-data" or not name or "filename" in params or "filename*" in params:
        return None
    payload = _decoded(value.removesuffix(b"\r"), headers.get("content-transfer-encoding", ""))
    return name, payload.decode("utf-8", "replace")


def _split_head(part: bytes) -> tuple[bytes, bytes]:
    """(header block, value), the block bounded; lines end in "\\r\\n" or a bare "\\n"."""
    for blank in (b"\r\n", b"\n"):
        if part.startswith(blank):
            return b"", part[len(blank):]  # a part without headers
    window = part[:MAX_PART_HEADER_BYTES + 4]
    ends = [(at, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (at := window.find(sep)) >= 0]
    at, size = min(ends) if ends else (len(part), 0)
    if at > MAX_PART_HEADER_BYTES:
        raise MultipartRefused(f"a part's headers are longer than {MAX_PART_HEADER_BYTES} bytes")
    return part[:at], part[at + size:]


def _headers(block: bytes) -> dict[str, str]:
    """Header lines (folded lines joined) by lower-case name; the first of a repeated name wins."""
    lines: list[str] = []
    for raw in block.decode("utf-8", "replace").split("\n"):
        line = raw.rstrip("\r")
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def _decoded(value: bytes, transfer_encoding: str) -> bytes:
    """RFC 7578 deprecates Content-Transfer-Encoding, but an old script may still send one."""
    encoding = transfer_encoding.strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError):
            return value
    if encoding == "quoted-printable":
        return quopri.decodestring(value)
    return value
