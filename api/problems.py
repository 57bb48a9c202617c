"""Problem details (RFC 9457) for every error under ``/api``, mapped once here.

``DomainError`` subclasses carry their own ``code`` and status; FastAPI's request validation
becomes 422 ``validation_error`` naming the field, or 400 ``invalid_json`` for a body that is
not JSON; any unknown path under ``/api`` answers 404 problem+json (see ``not_found_router``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, InvalidJson, ValidationProblem

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://booking-desk.invalid/problems/"


class Problem(BaseModel):
    """RFC 9457 problem details as this API answers them (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


_MEANINGS = {
    400: "invalid_json, bad_signature or invalid_payload",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "slot_unavailable, invalid_state or idempotency_in_progress",
    422: "validation_error (naming the field) or idempotency_conflict",
    502: "provider_error",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, each documented as problem+json."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": _MEANINGS[status], "content": {PROBLEM_JSON: {"schema": schema}}} for status in statuses
    }


def problem(status: int, code: str, title: str, detail: str, *, field: str | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response: ``{type, title, status, detail, code[, field]}``."""
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    if field:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def domain_problem(error: DomainError) -> JSONResponse:
    return problem(error.status, error.code, error.title, error.detail, field=error.field)


def _field_path(loc: tuple | list) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_problem(errors: list[dict]) -> ValidationProblem:
    """Turn pydantic's error list into one ``ValidationProblem`` naming the first bad field."""
    first = errors[0]
    field = _field_path(first.get("loc", ()))
    details = "; ".join(f"{_field_path(e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return ValidationProblem(details, field=field)


@dataclass(frozen=True)
class UnparsableBody:
    """A request body that is not JSON, remembered by the SHA-256 of its bytes (so an
    ``Idempotency-Key`` can still tell the same bad body from a different one)."""

    sha256: str


async def request_body(request: Request) -> Any:
    """The parsed JSON body, or ``UnparsableBody`` when it is empty or not JSON; ``parse_model``
    then answers 400 ``invalid_json``."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return UnparsableBody(hashlib.sha256(raw).hexdigest())


def parse_model(model: type[M], data: Any) -> M:
    """Validate ``data`` (parsed JSON) as ``model``; raises ``InvalidJson`` for an unparsable body
    and ``ValidationProblem`` naming the field otherwise."""
    if isinstance(data, UnparsableBody):
        raise InvalidJson("the request body is not valid JSON")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_problem(error.errors()) from None


async def json_body(request: Request) -> Any:
    """The parsed JSON body; raises ``InvalidJson`` (400) when it is empty or not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson("the request body is not valid JSON") from None


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers; HTML error pages stay for non-API paths."""

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, error: DomainError) -> JSONResponse:
        return domain_problem(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return domain_problem(InvalidJson("the request body is not valid JSON"))
        return domain_problem(validation_problem(errors))

    # NiceGUI renders HTML error pages; under /api every error is problem+json instead.
    from fastapi.exception_handlers import http_exception_handler
    from nicegui.nicegui import _exception_handler_404, _exception_handler_500

    async def _http(request: Request, error: Exception):
        if _is_api(request) and isinstance(error, StarletteHTTPException):
            code = "not_found" if error.status_code == 404 else "http_error"
            detail = (
                f"no API route {request.method} {request.url.path}" if error.status_code == 404 else str(error.detail)
            )
            return problem(error.status_code, code, _TITLES.get(error.status_code, "HTTP error"), detail)
        if getattr(error, "status_code", None) == 404:
            return await _exception_handler_404(request, error)
        return await http_exception_handler(request, error)

    async def _crash(request: Request, error: Exception):
        if _is_api(request):
            log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
            return problem(500, "internal_error", "Internal error", "the server failed; the error is logged")
        return await _exception_handler_500(request, error)

    app.add_exception_handler(404, _http)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _crash)


_TITLES = {404: "Not found", 405: "Method not allowed"}


def _is_api(request: Request) -> bool:
    return request.url.path == "/api" or request.url.path.startswith("/api/")
