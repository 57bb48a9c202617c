"""``Idempotency-Key`` for ``POST /api/bookings`` and ``POST /api/payments`` (DESIGN.md section 5).

Per route: the same key with the same body (compared as parsed JSON) replays the first final
response, 2xx or 4xx; a different body gets 422 ``idempotency_conflict``; while the first
request is still in flight, 409 ``idempotency_in_progress``. A 5xx is not final: its key is
released so the client may retry. Keys are kept 24 hours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.problems import PROBLEM_JSON, UnparsableBody, domain_problem
from data.db import UnitOfWork
from data.models import IdempotencyRecord
from domain.errors import DomainError, IdempotencyConflict, IdempotencyInProgress, ValidationProblem

KEEP_SECONDS = 24 * 3600
HEADER = "Idempotency-Key"


def request_hash(body: Any) -> str:
    """SHA-256 of the body as canonical JSON (sorted keys), so formatting does not matter; a body
    that is not JSON counts by its bytes."""
    if isinstance(body, UnparsableBody):
        return hashlib.sha256(f"unparsable:{body.sha256}".encode()).hexdigest()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def idempotent(
    uow: UnitOfWork,
    clock: Callable[[], datetime],
    request: Request,
    route: str,
    body: Any,
    handler: Callable[[], Awaitable[Response]],
) -> Response:
    """Run ``handler`` once per (route, Idempotency-Key); see the module docstring.

    Without the header the handler simply runs. ``DomainError``s from the handler become problem
    responses here so that a final 4xx can be stored and replayed.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return await _run(handler)
    if not 1 <= len(key) <= 200:
        raise ValidationProblem("Idempotency-Key must be 1 to 200 characters", field=HEADER)
    digest = request_hash(body)
    replay = await run_in_threadpool(_begin, uow, clock(), route, key, digest)
    if replay is not None:
        return replay
    try:
        response = await _run(handler)
    except BaseException:
        await run_in_threadpool(_release, uow, route, key)
        raise
    if response.status_code >= 500:
        await run_in_threadpool(_release, uow, route, key)
    else:
        await run_in_threadpool(_finish, uow, route, key, response)
    return response


async def _run(handler: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await handler()
    except DomainError as error:
        return domain_problem(error)


def _begin(uow: UnitOfWork, now: datetime, route: str, key: str, digest: str) -> Response | None:
    with uow.begin() as session:
        record = session.get(IdempotencyRecord, (route, key))
        if record is not None and record.expires_at <= now:
            session.delete(record)
            session.flush()
            record = None
        if record is None:
            session.add(
                IdempotencyRecord(
                    route=route,
                    key=key,
                    request_hash=digest,
                    status="in_progress",
                    created_at=now,
                    expires_at=now + timedelta(seconds=KEEP_SECONDS),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                raise IdempotencyInProgress("a request with this Idempotency-Key is in progress") from None
            return None
    if record.request_hash != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different body", field=HEADER)
    if record.status != "done":
        raise IdempotencyInProgress("a request with this Idempotency-Key is still in progress")
    media_type = PROBLEM_JSON if record.response_status >= 400 else "application/json"
    return Response(
        content=record.response_body,
        status_code=record.response_status,
        media_type=media_type,
        headers={"Idempotent-Replayed": "true"},
    )


def _finish(uow: UnitOfWork, route: str, key: str, response: Response) -> None:
    with uow.begin() as session:
        record = session.get(IdempotencyRecord, (route, key))
        if record is None:
            return
        record.status = "done"
        record.response_status = response.status_code
        record.response_body = bytes(response.body).decode()
        session.add(record)
        session.commit()


def _release(uow: UnitOfWork, route: str, key: str) -> None:
    with uow.begin() as session:
        session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.route == route, IdempotencyRecord.key == key))
        session.commit()


def purge_expired(uow: UnitOfWork, now: datetime) -> int:
    """Delete keys older than 24 hours; returns how many (run by the scheduler)."""
    with uow.begin() as session:
        result = session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
        session.commit()
        return result.rowcount or 0
