"""``python -m tests.crashy run``: the real ``callbridge run``, with its spool replayer made to crash.

The fault is injected at one point only, the body of the replayer task
(``Intake.replay_forever``), so that what is tested is everything around it:
the supervisor, /health, the lifecycle and the exit status systemd would see.

- ``CRASHY_TIMES=N``: the first N runs of the task raise at once; later ones run normally.
- ``CRASHY_BACKOFF_S``: the supervisor's first restart delay (default: the daemon's own).
"""

from __future__ import annotations

import asyncio
import os
import sys

from daemon.cli import main
from daemon.intake.durable import Intake
from daemon.runtime import tasks

_original = Intake.replay_forever
_left = [int(os.environ.get("CRASHY_TIMES", "0"))]


async def _crashing_replay_forever(self, probe):  # type: ignore[no-untyped-def]
    if _left[0] > 0:
        _left[0] -= 1
        await asyncio.sleep(0.05)
        raise RuntimeError("injected crash of the spool replayer")
    await _original(self, probe)


Intake.replay_forever = _crashing_replay_forever  # type: ignore[method-assign]
if os.environ.get("CRASHY_BACKOFF_S"):
    defaults = tasks.TaskGroup.__init__.__kwdefaults__ or {}
    if "backoff_s" in defaults:
        defaults["backoff_s"] = float(os.environ["CRASHY_BACKOFF_S"])

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
