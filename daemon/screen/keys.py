"""Typed application keys of the manager's screen."""

from __future__ import annotations

from aiohttp import web

from daemon.screen.gate import AuthGate
from daemon.screen.hub import ScreenHub
from daemon.screen.inboxfeed import InboxFeed
from daemon.screen.listener import CallListener

SCREEN_HUB = web.AppKey("screen_hub", ScreenHub)
SCREEN_LISTENER = web.AppKey("screen_listener", CallListener)
SCREEN_AUTH_GATE = web.AppKey("screen_auth_gate", AuthGate)
SCREEN_INBOX = web.AppKey("screen_inbox", InboxFeed)
