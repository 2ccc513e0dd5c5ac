"""``GET /health``: is the daemon able to do its job, right now?

The answer has the shape of the IETF health-check draft
(draft-inadarei-api-health-check, ``application/health+json``): an overall
``status`` of pass, warn or fail and a ``checks`` object of
``component:measurement`` entries.

The rule that matters to a load balancer: ``fail`` (503) means events cannot
be made durable, that is PostgreSQL does not answer and there is no writable
spool to fall back on. While PostgreSQL is down but the spool accepts events,
the status is ``warn`` (200) with the PostgreSQL check failing, so traffic keeps
coming and monitoring still alerts. Anything else amiss (a schema other than
this build's, a spool that cannot be written while the database is fine, a
failing PBX API, a background task that crashed and was restarted, an
acknowledged event kept in the quarantine table, summaries left unsettled for
over a minute) is ``warn`` too.

Liveness is not health: the systemd watchdog is fed by the event loop alone
(``daemon.runtime.process``), so a database outage never gets the daemon restarted.
The document names no secret: error texts pass through ``redact``.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from pydantic import BaseModel, SecretStr

from config.settings import Settings
from daemon.domain.errors import CallbridgeError
from daemon.http.boundary import json_response
from daemon.intake.quarantine import open_count
from daemon.runtime.keys import INTAKE, METRICS, REPOSITORY, SETTINGS, SPOOL, TASKS
from daemon.runtime.metrics import Metrics
from daemon.store import migrate, settle

HEALTH_CONTENT_TYPE = "application/health+json"
DB_PROBE_TIMEOUT_S = 2.0
SERVICE_ID = "callbridge"
STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}
HTTP_STATUS = {"pass": 200, "warn": 200, "fail": 503}
REDACTED = "[redacted]"


@dataclass(frozen=True)
class DatabaseProbe:
    ok: bool
    round_trip_ms: float | None = None
    schema_version: int | None = None
    last_event_at: datetime | None = None
    error: str | None = None


def overall_status(*, database_ok: bool, spool_accepting: bool | None, others: list[str]) -> str:
    """The rule of the module docstring. ``spool_accepting`` is None when there is no spool."""
    if not database_ok:
        return "warn" if spool_accepting else "fail"
    return "warn" if any(STATUS_RANK[s] > 0 for s in others) else "pass"


def secrets_of(settings: Settings) -> list[str]:
    """Every configured value that must never be shown: every secret wherever it sits (the PBX key
    and salt, the API token, each source's secret and IMAP password, the SMTP password...), and the
    database URL with its password."""
    found = list(_secret_values(settings))
    if settings.database.url:
        password = urlsplit(settings.database.url).password
        found += [settings.database.url] + ([password] if password else [])
    return sorted({s for s in found if s}, key=len, reverse=True)


def _secret_values(value: object) -> Iterator[str]:
    """The SecretStr values inside ``value``: a settings model, a mapping or a sequence, at any depth."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secret_values(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _secret_values(item)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check(
    status: str,
    component_type: str,
    *,
    value: Any = None,
    unit: str | None = None,
    output: str | None = None,
) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"componentType": component_type, "status": status, "time": _now_iso()}
    if value is not None:
        entry["observedValue"] = value
    if unit is not None:
        entry["observedUnit"] = unit
    if output:
        entry["output"] = output
    return [entry]


async def probe_database(app: web.Application, secrets: list[str]) -> DatabaseProbe:
    repo = app.get(REPOSITORY)
    if repo is None:
        return DatabaseProbe(ok=False, error="database pool not open")
    if not repo.connected:
        return DatabaseProbe(
            ok=False, error="PostgreSQL has not answered since the start; connecting in the background"
        )
    intake = app.get(INTAKE)
    budget_s = app[SETTINGS].spool.db_budget_s
    if intake is not None and not getattr(intake, "database_ok", True):
        # The intake gave up on PostgreSQL and spools; its replayer probes every
        # fraction of a second and says when it answers again. Asking once more
        # here would only make /health as slow as the outage.
        return DatabaseProbe(
            ok=False, error=f"PostgreSQL did not answer within the {budget_s:g} s budget"
        )
    started = time.perf_counter()
    try:
        row = await repo.health_probe(timeout_s=min(DB_PROBE_TIMEOUT_S, budget_s))
    except CallbridgeError as exc:
        cause = exc.__cause__ or exc
        return DatabaseProbe(
            ok=False, error=redact(f"{type(cause).__name__}: {cause}", secrets)[:300]
        )
    return DatabaseProbe(
        ok=True,
        round_trip_ms=round((time.perf_counter() - started) * 1000, 2),
        schema_version=row.get("schema_version"),
        last_event_at=row.get("last_event_at"),
    )


@functools.cache
def _expected_schema() -> int:
    """This build's newest migration, read from sql/migrations once."""
    return migrate.latest_version()


def _database_checks(db: DatabaseProbe) -> dict[str, list[dict[str, Any]]]:
    if not db.ok:
        failed = _check("fail", "datastore", output=db.error)
        return {"postgresql:responseTime": failed, "postgresql:schemaVersion": failed}
    expected = _expected_schema()
    schema_ok = db.schema_version == expected
    return {
        "postgresql:responseTime": _check("pass", "datastore", value=db.round_trip_ms, unit="ms"),
        "postgresql:schemaVersion": _check(
            "pass" if schema_ok else "warn",
            "datastore",
            value=db.schema_version,
            output=None if schema_ok else f"this build expects schema version {expected}",
        ),
    }


def _last_event_check(db: DatabaseProbe, metrics: Metrics | None) -> list[dict[str, Any]]:
    """Seconds since the newest PBX event, from the database or, failing that, this process."""
    seen = [db.last_event_at.timestamp()] if db.last_event_at else []
    in_process = (
        metrics.registry.get_sample_value("callbridge_last_event_timestamp_seconds")
        if metrics
        else None
    )
    if in_process:
        seen.append(in_process)
    if not seen:
        return _check("pass", "component", output="no PBX event received yet")
    return _check("pass", "component", value=round(max(0.0, time.time() - max(seen)), 1), unit="s")


async def _spool_state(app: web.Application) -> tuple[bool | None, list[dict[str, Any]]]:
    """(accepting events?, check); (None, ...) when this daemon runs without a spool."""
    spool = app.get(SPOOL)
    if spool is None:
        return None, _check("pass", "datastore", value=0, unit="events", output="no local spool")
    backlog, writable = spool.backlog(), spool.writable()
    backlog = await backlog if inspect.isawaitable(backlog) else backlog
    writable = await writable if inspect.isawaitable(writable) else writable
    status = "pass" if writable else "fail"
    return bool(writable), _check(
        status,
        "datastore",
        value=int(backlog),
        unit="events",
        output=None if writable else "the spool cannot be written",
    )


def _pbx_api_check(metrics: Metrics | None) -> list[dict[str, Any]]:
    last = metrics.pbx_api_last if metrics else None
    if last is None:
        return _check("pass", "system", output="no PBX API request made yet")
    detail = (
        f"{last.path}: {last.outcome}"
        + (f" (HTTP {last.status})" if last.status else "")
        + (f" code {last.code}" if last.code else "")
    )
    return _check("pass" if last.ok else "warn", "system", value=last.outcome, output=detail)


def _tasks_check(app: web.Application) -> list[dict[str, Any]]:
    tasks = app.get(TASKS)
    if tasks is None:
        return _check("pass", "component", value=0, output="no background tasks")
    restarted = tasks.recently_restarted()
    if not restarted:
        return _check("pass", "component", value=0)
    detail = "; ".join(f"{r.name} restarted {r.restarts}x, last error {r.last_error}" for r in restarted)
    return _check("warn", "component", value=sum(r.restarts for r in restarted), output=detail[:500])


async def _quarantine_check(app: web.Application, db: DatabaseProbe, secrets: list[str]) -> list[dict[str, Any]]:
    """Acknowledged events that could not be stored: the table's open rows, else this process's count."""
    intake = app.get(INTAKE)
    count: int | None = None
    if db.ok:
        try:
            budget_s = app[SETTINGS].spool.db_budget_s
            count = await open_count(app[REPOSITORY], timeout_s=min(DB_PROBE_TIMEOUT_S, budget_s))
        except (CallbridgeError, TimeoutError):
            count = None
    if count is None:
        count = getattr(intake, "quarantined", 0)
    if not count:
        return _check("pass", "datastore", value=0, unit="events")
    return _check("warn", "datastore", value=count, unit="events",
                  output=redact(f"{count} acknowledged event(s) could not be stored: see the table "
                                "event_quarantine (rows without resolved_at)", secrets))


async def _settle_check(app: web.Application, db: DatabaseProbe) -> list[dict[str, Any]]:
    """The oldest row the webhooks left to settle (daemon/store/settle.py): warn past LAG_WARN_S."""
    if not db.ok:
        return _check("pass", "component", output="PostgreSQL not answering: see its checks")
    try:
        noted, oldest_s = await settle.lag(app[REPOSITORY].pool, timeout_s=DB_PROBE_TIMEOUT_S)
    except (CallbridgeError, TimeoutError):
        return _check("pass", "component", output="not measured this time")
    if oldest_s <= settle.LAG_WARN_S:
        return _check("pass", "component", value=round(oldest_s, 1), unit="s")
    return _check("warn", "component", value=round(oldest_s, 1), unit="s",
                  output=f"{noted} row(s) of duplicate candidates and analytics facts wait to be settled, the "
                         f"oldest for {oldest_s:.0f} s: the settle task is failing or cannot keep up (see "
                         "settle_failed in the log)")


async def health_document(app: web.Application) -> dict[str, Any]:
    """The whole health answer of this daemon."""
    settings = app[SETTINGS]
    secrets = secrets_of(settings)
    metrics = app.get(METRICS)
    db = await probe_database(app, secrets)
    spool_accepting, spool_check = await _spool_state(app)
    checks = _database_checks(db) | {
        "pbx:lastEventAge": _last_event_check(db, metrics),
        "spool:backlog": spool_check,
        "spool:quarantine": await _quarantine_check(app, db, secrets),
        "tasks:restarts": _tasks_check(app),
        "settle:oldestAge": await _settle_check(app, db),
        "pbx:lastApiResult": _pbx_api_check(metrics),
    }
    others = [
        entries[0]["status"]
        for name, entries in checks.items()
        if not name.startswith("postgresql:")
    ]
    if db.ok:
        others += [checks["postgresql:schemaVersion"][0]["status"]]
    status = overall_status(database_ok=db.ok, spool_accepting=spool_accepting, others=others)
    doc: dict[str, Any] = {
        "status": status,
        "version": "1",
        "releaseId": _release(),
        "serviceId": SERVICE_ID,
        "description": "Mango Office PBX events into the CRM database",
        "checks": checks,
    }
    if status != "pass":
        doc["output"] = _summary(db, spool_accepting, status)
    return doc


def _summary(db: DatabaseProbe, spool_accepting: bool | None, status: str) -> str:
    if not db.ok and spool_accepting:
        return "PostgreSQL is not answering; events are kept in the local spool"
    if not db.ok:
        return "PostgreSQL is not answering and there is no spool: events cannot be stored"
    return "degraded: see the checks that do not pass"


def _release() -> str:
    try:
        return metadata.version("callbridge")
    except metadata.PackageNotFoundError:
        return "unknown"


async def health(request: web.Request) -> web.Response:
    doc = await health_document(request.app)
    return json_response(
        doc,
        status=HTTP_STATUS[doc["status"]],
        content_type=HEALTH_CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    """No token: a load balancer and monitoring ask without one, and the answer holds no secret."""
    app.router.add_get("/health", health)


# -- `callbridge check` -----------------------------------------------------------
CHECK_TIMEOUT_S = 10.0
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def local_health_url(settings: Settings) -> str:
    """The running daemon's /health, reached over loopback when it listens on every address."""
    host = _ANY_ADDRESS.get(settings.http.listen_host, settings.http.listen_host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.http.listen_port}/health"


async def fetch_health(url: str, *, timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
    """The daemon's health document; a ``fail`` document of our own when it does not answer."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            async with session.get(url) as resp:
                doc = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {
            "status": "fail",
            "serviceId": SERVICE_ID,
            "output": f"no health answer from {url}: {exc.__class__.__name__}: {exc}",
        }
    if not isinstance(doc, dict) or doc.get("status") not in STATUS_RANK:
        return {
            "status": "fail",
            "serviceId": SERVICE_ID,
            "output": f"{url} did not answer a health document",
        }
    return doc


def check_exit_code(doc: dict[str, Any]) -> int:
    """0 for pass and warn, 1 for fail: the same line a load balancer draws."""
    return 0 if doc.get("status") in ("pass", "warn") else 1
