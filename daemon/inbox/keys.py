"""Typed application keys of the inbox."""

from __future__ import annotations

from aiohttp import web

from daemon.inbox.sweep import Clock, InboxSweep

# Tests set this before start-up to run the response clock at a chosen time.
INBOX_CLOCK: web.AppKey[Clock] = web.AppKey("inbox_clock")
INBOX_SWEEP = web.AppKey("inbox_sweep", InboxSweep)
