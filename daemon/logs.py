"""structlog, configured once: JSON lines under systemd, a readable console on a TTY."""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(*, level: str = "info", fmt: str = "auto") -> None:
    """``fmt``: ``json``, ``console`` or ``auto`` (console on a TTY, else JSON)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    tail: list[structlog.typing.Processor] = (
        [structlog.dev.ConsoleRenderer()]
        if use_console
        else [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer(ensure_ascii=False)]
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
