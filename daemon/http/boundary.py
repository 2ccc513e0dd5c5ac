"""The edge of every route: one request middleware and one error middleware.

- ``request_context`` clears the log context left by the previous request of a
  keep-alive connection and binds ``request_id`` (the caller's ``X-Request-Id``
  when it is sane, else a new one; echoed in the answer) and ``route`` (the
  route's pattern, never the raw path: a hostile path must not mint log keys).
- ``errors`` turns whatever a handler raises into a JSON answer: our ``BadInput``
  into its 4xx, bad input the libraries found (undecodable body, unknown
  charset, JSON nested past the interpreter's recursion limit, a value
  PostgreSQL refuses) into a 400 with the reason, a query that ran out of time
  into a 503 that says so, PostgreSQL away into a 503,
  aiohttp's own 4xx into JSON, and anything else into one logged 500. A body
  that could not be read is answered on a connection then closed. Handlers
  therefore raise instead of each keeping an ``_error()`` of its own.
- ``plain`` and ``dumps`` write what a row holds (times, dates, decimals) as
  JSON, the same way for every answer: times in UTC, ISO 8601, and text as
  UTF-8 (Cyrillic as it is, never ``\\uXXXX``). ``json_response`` is the one way a
  route answers JSON, so every answer and every error is written by ``dumps``
  (tests/unit/test_json_answers.py keeps ``web.json_response`` out of the routes).
"""

from __future__ import annotations

import errno
import json
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from daemon.domain.errors import BadInput, StorageRefused, StorageTimeout, StorageUnavailable

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
RETRY_AFTER_S = 1
MAX_DETAIL_CHARS = 200


def _request_id(sent: str | None) -> str:
    return sent if sent and _SANE_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Middleware: a clean log context with the request's id and route, for every route."""
    structlog.contextvars.clear_contextvars()
    request_id = _request_id(request.headers.get(REQUEST_ID_HEADER))
    structlog.contextvars.bind_contextvars(request_id=request_id, route=_route(request))
    response = await handler(request)
    if not response.prepared:  # a WebSocket or a streamed file has sent its headers already
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def plain(value: Any) -> Any:
    """A row's value as JSON holds it: a time in UTC (ISO 8601), a date, a decimal as a number."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _default(value: Any) -> Any:
    converted = plain(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON")
    return converted


def dumps(value: Any) -> str:
    """JSON text for an answer; Cyrillic as it is, row values through ``plain``."""
    return json.dumps(value, ensure_ascii=False, default=_default)


def json_response(data: Any, *, status: int = 200, headers: Any = None,
                  content_type: str = "application/json") -> web.Response:
    """A JSON answer written by ``dumps``: UTF-8 text, row values through ``plain``."""
    return web.json_response(data, status=status, headers=headers, content_type=content_type, dumps=dumps)


def json_error(status: int, problem: str, *, retry_after_s: int = RETRY_AFTER_S,
               **details: object) -> web.Response:
    headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
    return json_response({"error": problem, **details}, status=status, headers=headers)


def query_timeout(exc: StorageTimeout) -> web.Response:
    """503 ``{"error": "query timeout", "after_s": N}``; retry no sooner than the query ran."""
    return json_error(503, "query timeout", retry_after_s=max(RETRY_AFTER_S, math.ceil(exc.after_s)),
                      after_s=exc.after_s)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Middleware: every failure of every route answered as JSON; a 500 only for our own bug."""
    try:
        return await handler(request)
    except BadInput as exc:
        return json_response(exc.body, status=exc.status)
    except web.HTTPException as exc:
        return _http_exception(exc)
    except StorageTimeout as exc:  # a slow query, not an outage: say which, and how long it ran
        log.warning("request_query_timeout", query=exc.query, after_s=exc.after_s)
        return query_timeout(exc)
    except StorageUnavailable as exc:
        log.warning("request_storage_unavailable", error=str(exc))
        return json_error(503, "storage unavailable, retry later")
    except StorageRefused as exc:
        log.info("request_value_refused", error=str(exc))
        return json_error(400, "a value was refused by the database", sqlstate=exc.sqlstate,
                          detail=str(exc.__cause__ or exc)[:MAX_DETAIL_CHARS])
    except RecursionError:
        return json_error(400, "JSON nested too deeply")
    except web.RequestPayloadError as exc:  # an undecodable Content-Encoding, a broken chunk
        return _unreadable_body(request, "the body could not be read", exc)
    except UnicodeError as exc:
        return _unreadable_body(request, "the body is not text in its declared charset", exc)
    except LookupError as exc:
        if type(exc) is not LookupError:  # a KeyError or IndexError is our bug, not the sender's
            raise
        return _unreadable_body(request, "the body's charset is unknown", exc)  # codecs.lookup's error
    except Exception as exc:  # StorageError included: a query or a handler of ours is wrong
        if isinstance(exc, OSError) and exc.errno in (errno.ENAMETOOLONG, errno.EINVAL):
            return json_error(404, "not found")  # a file name the OS will not even look up
        log.exception("request_failed")
        return json_error(500, "internal error")


def _unreadable_body(request: web.Request, problem: str, exc: Exception) -> web.Response:
    """A 400 for a body that could not be read, on a connection that is then closed.

    What is left of such a body cannot be skipped: aiohttp would try to read it
    after the answer (to keep the connection), fail again, log "Unhandled
    exception" and reset the connection under the client's next request.
    Saying ``Connection: close`` and ending the body here closes it cleanly.
    """
    detail = str(exc).replace("\n", " ")[:MAX_DETAIL_CHARS]
    log.warning("request_body_unreadable", problem=problem, error=detail)
    response = json_error(400, problem, detail=detail)
    if not request.content.is_eof():
        response.force_close()
        request.content.feed_eof()
    return response


def _http_exception(exc: web.HTTPException) -> web.StreamResponse:
    """aiohttp's own answers (404, 405, 413...) as JSON; redirects and JSON bodies as they are."""
    if exc.status < 400 or exc.content_type == "application/json":
        raise exc
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    problem = "body too large" if exc.status == 413 else (exc.reason or "error").lower()
    return json_response({"error": problem}, status=exc.status, headers=headers)


def middlewares() -> list[Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]]:
    """The outermost middlewares, in order: the context first, so that errors are logged with it."""
    return [request_context, errors]
