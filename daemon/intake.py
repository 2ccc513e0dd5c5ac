"""Where accepted PBX events go: made durable by the pipeline, then announced.

Listeners (routing, later screen pop) run after the event is stored and must
not block the PBX's 200: they are called synchronously and are expected to
hand work to a background task.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from daemon.domain import Envelope
from daemon.pipeline import Outcome, Pipeline

log = structlog.get_logger(__name__)

Listener = Callable[[Envelope], None]


class Intake:
    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def accept(self, env: Envelope) -> Outcome:
        outcome = await self._pipeline.apply(env)
        if outcome == "stored":
            self.announce(env)
        return outcome

    def announce(self, env: Envelope) -> None:
        for listener in self._listeners:
            try:
                listener(env)
            except Exception:  # a listener's bug must not turn a stored event into a 500
                log.exception("listener_failed", listener=getattr(listener, "__qualname__", repr(listener)))
