"""structlog, configured once: JSON lines under systemd, a readable console on a TTY."""

from __future__ import annotations

import logging
import sys

import structlog
import structlog.tracebacks

_STDLIB_HANDLER = "callbridge-structlog"
# structlog's dict_tracebacks shows each frame's local variables, and a frame
# of the signature check or of connecting holds the salt or the database URL:
# tracebacks in the journal carry no locals.
_TRACEBACKS_WITHOUT_LOCALS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(*, level: str = "info", fmt: str = "auto") -> None:
    """``fmt``: ``json``, ``console`` or ``auto`` (console on a TTY, else JSON)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    tail: list[structlog.typing.Processor] = (
        [structlog.dev.ConsoleRenderer()]
        if use_console
        else [_TRACEBACKS_WITHOUT_LOCALS, structlog.processors.JSONRenderer(ensure_ascii=False)]
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
