"""Call flows as domain events: the PBX's examples, the manual's documented flows, and partial-evidence cases.

The manual's flows (tests/fixtures/documented_flows.json, copied verbatim) reuse
one placeholder entry_id across all six and garble some ids within one flow, so
each flow gets ids of its own here, and the garbled ones are mapped onto the
leg they plainly name.
"""

from __future__ import annotations

from typing import Any

from adapters.mango.translate import EVENT_PATHS
from tests.conftest import fixture_json
from tests.scenarios import Step, steps

DOCUMENTED = fixture_json("documented_flows.json")["flows"]
PARTIAL = fixture_json("partial_evidence_flows.json")["flows"]

# dtmf-then-route: the manual prints the IVR leg's id three ways (and the
# entry_id three ways); they are one leg of one call.
_SAME_LEG = {"DAwOTU2NTo4MTozMTI2OTQyN": "DAwOTU2NTo4MTozMTI2OTQyND",
             "AwOTU2NTo4MTozMTI2OTQy": "DAwOTU2NTo4MTozMTI2OTQyND"}


def _own_ids(flow: str, payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    if "entry_id" in out:
        out["entry_id"] = f"doc:{flow}"
    if "call_id" in out:
        out["call_id"] = f"doc:{flow}:{_SAME_LEG.get(out['call_id'], out['call_id'])}"
    if "command_id" in out:
        out["command_id"] = f"doc:{flow}:{out['command_id']}"
    side = dict(out.get("from") or {})
    if "taken_from_call_id" in side:
        side["taken_from_call_id"] = f"doc:{flow}:{_SAME_LEG.get(side['taken_from_call_id'], side['taken_from_call_id'])}"
        out["from"] = side
    return out


def documented_steps(flow: str) -> list[Step]:
    return [Step(s["path"], _own_ids(flow, s["json"])) for s in DOCUMENTED[flow]]


def partial_steps(flow: str) -> list[Step]:
    return [Step(s["path"], s["json"]) for s in PARTIAL[flow]]


def flow_steps(name: str) -> list[Step]:
    """Steps of a flow by name: a fixture file (*.json), a documented flow, or a partial-evidence one."""
    if name.endswith(".json"):
        return steps(name)
    if name in DOCUMENTED:
        return documented_steps(name)
    return partial_steps(name)


def to_event(step: Step) -> object | None:
    """The domain event of a step; None for a command result (no call state)."""
    kind = EVENT_PATHS.get(step.path.strip("/"))
    if kind is None:
        return None
    return kind.translate(kind.model.model_validate(step.json)).event


def flow_events(name: str) -> tuple[str, list[Any]]:
    events = [e for e in map(to_event, flow_steps(name)) if e is not None]
    return events[0].entry_id, events
