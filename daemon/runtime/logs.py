"""structlog, configured once: JSON lines under systemd, a readable console on a TTY."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import structlog
import structlog.tracebacks

_STDLIB_HANDLER = "callbridge-structlog"
# structlog's dict_tracebacks shows each frame's local variables, and a frame
# of the signature check or of connecting holds the salt or the database URL:
# tracebacks in the journal carry no locals.
_TRACEBACKS_WITHOUT_LOCALS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
REDACTED = "[redacted]"
# A quote of a secret cut short (aiohttp's "line too long" error quotes 100 bytes of the line)
# is redacted too, from this many characters on.
PARTIAL_SECRET_CHARS = 16
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def redact_secrets(text: str, secrets: Sequence[str]) -> str:
    """``text`` without any of ``secrets``, whole or cut short (a quote of their first characters)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
        if len(secret) < PARTIAL_SECRET_CHARS or "://" in secret:
            continue  # a URL's first characters ("postgresql://") are no secret
        head = secret[:PARTIAL_SECRET_CHARS]
        start = text.find(head)
        while start >= 0:
            end = start + PARTIAL_SECRET_CHARS
            while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
                end += 1
            text = text[:start] + REDACTED + text[end:]
            start = text.find(head, start + len(REDACTED))
    return text


class _Secrets:
    """The values the last processor hides, longest first; more are added when a reload brings new
    ones (a source added on SIGHUP), and none is forgotten: older lines may still quote it."""

    def __init__(self) -> None:
        self.ordered: list[str] = []

    def add(self, secrets: Sequence[str]) -> None:
        self.ordered = sorted({*self.ordered, *(s for s in secrets if s)}, key=len, reverse=True)


_SECRETS = _Secrets()


def remember_secrets(secrets: Sequence[str]) -> None:
    """Redact ``secrets`` too from now on (the settings of a reload)."""
    _SECRETS.add(secrets)


def _redact(_logger: object, _name: str, rendered: object) -> object:
    """The last processor: the rendered line, whatever produced it (our events, aiohttp's
    errors quoting a request line, tracebacks), with every secret replaced."""
    if isinstance(rendered, str) and _SECRETS.ordered:
        return redact_secrets(rendered, _SECRETS.ordered)
    return rendered


def configure_logging(*, level: str = "info", fmt: str = "auto", secrets: Sequence[str] = ()) -> None:
    """``fmt``: ``json``, ``console`` or ``auto`` (console on a TTY, else JSON). No line holds any
    of ``secrets`` (every configured secret: daemon.runtime.health.secrets_of), nor any added later."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    remember_secrets(secrets)
    redact: structlog.typing.Processor = _redact  # type: ignore[assignment]  # it gets the rendered line
    tail: list[structlog.typing.Processor] = (
        [structlog.dev.ConsoleRenderer(), redact]
        if use_console
        else [_TRACEBACKS_WITHOUT_LOCALS, structlog.processors.JSONRenderer(ensure_ascii=False), redact]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # aiohttp's access log repeats our one summary line per webhook.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    _route_stdlib_logging(level, tail)


def _route_stdlib_logging(level: str, tail: list[structlog.typing.Processor]) -> None:
    """Libraries that log through the standard library (asyncpg's pool, aiohttp's
    server errors) are rendered like our own lines, so the journal holds JSON only."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name(_STDLIB_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _STDLIB_HANDLER]:
        root.removeHandler(old)  # configured again (tests): replace, do not double
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    quiet = logging.getLogger(CHATTY_LIBRARY)
    for stale in [f for f in quiet.filters if isinstance(f, _AsDebug)]:
        quiet.removeFilter(stale)
    quiet.addFilter(_AsDebug(_LEVELS[level]))


# The embedded PostgreSQL (pgserver) narrates every initdb and pg_ctl call, with its whole
# output, at INFO: a first `make run` or command printed forty lines nobody needs.
CHATTY_LIBRARY = "pgserver"


class _AsDebug(logging.Filter):
    """A library's INFO lines are our debug detail: shown only when the log level is debug."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold
