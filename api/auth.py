"""Authentication at the gateway: signed session cookies, API tokens, role checks, login routes.

A session is a cookie signed with ``BOOKING_STORAGE_SECRET`` (itsdangerous) holding the user id
and the user's session version; it expires after ``SESSION_SECONDS``. Nothing is stored on the
server per anonymous request, so plain GETs cost no memory. API clients may send
``Authorization: Bearer <token>`` instead.

Every path that is not on ``PUBLIC`` needs a signed-in user: a page request without one gets a
303 redirect to ``/login?next=...`` from the server. API routes under ``/api`` declare what they
need with ``StaffUser`` / ``ManagerUser`` (401 / 403 problem details).
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from api.problems import json_body
from domain.accounts import Principal, authenticate, principal_by_id, principal_by_token
from domain.errors import DomainError, Forbidden, Unauthorized, ValidationProblem
from system import System

SESSION_COOKIE = "booking_session"
SESSION_SECONDS = 12 * 3600
FAILED_LOGIN_DELAY_SECONDS = 1.0

PUBLIC = [
    re.compile(pattern)
    for pattern in (
        r"^/login$",
        r"^/logout$",
        r"^/kiosk(/.*)?$",
        r"^/pay/[^/]+$",
        r"^/payments/[^/]+/return$",
        r"^/sandbox/.*$",
        r"^/api(/.*)?$",  # API routes check roles themselves (StaffUser, ManagerUser)
        r"^/_nicegui(/.*)?$",
        r"^/_nicegui_ws(/.*)?$",
        r"^/favicon\.ico$",
    )
]


PUBLIC_API = {
    ("GET", "/api/resources"),
    ("GET", "/api/availability"),
    ("POST", "/api/bookings"),
    ("GET", "/api/bookings/{booking_id}"),
    ("POST", "/api/payments"),
    ("GET", "/api/payments/{payment_id}"),
    ("POST", "/api/webhooks/payments/{provider}"),
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/static/{path:path}"),
}
"""API routes open to clients without a staff session (DESIGN.md section 5); every other route
under /api needs ``StaffUser`` or ``ManagerUser`` (the route audit test checks this list)."""


def is_public(path: str) -> bool:
    """True for paths anyone may open (the kiosk, payment pages, login, the API's own checks)."""
    return any(pattern.match(path) for pattern in PUBLIC)


class Sessions:
    """Signs and reads session cookies (``{"uid": int, "sv": int}``), valid ``SESSION_SECONDS``."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="booking-desk-session")

    def encode(self, principal: Principal) -> str:
        return self._serializer.dumps({"uid": principal.id, "sv": principal.session_version})

    def decode(self, cookie: str) -> tuple[int, int] | None:
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("uid"), int):
            return None
        return data["uid"], int(data.get("sv", 0))


def resolve_principal(system: System, sessions: Sessions, request: Request) -> Principal | None:
    """The user behind the request's bearer token or session cookie, or ``None``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return principal_by_token(system.uow, header[7:].strip(), system.now())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    decoded = sessions.decode(cookie)
    return principal_by_id(system.uow, *decoded) if decoded else None


class AuthMiddleware(BaseHTTPMiddleware):
    """Puts ``request.state.principal`` on every request and redirects anonymous page requests
    for staff pages to ``/login?next=...`` (303), before any page code runs."""

    def __init__(self, app, system: System, sessions: Sessions) -> None:
        super().__init__(app)
        self.system = system
        self.sessions = sessions

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        request.state.principal = None
        if path.startswith("/_nicegui"):
            return await call_next(request)
        needs_lookup = request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization")
        if needs_lookup:
            request.state.principal = await run_in_threadpool(resolve_principal, self.system, self.sessions, request)
        if request.state.principal is None and not is_public(path):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return await call_next(request)


def current_principal(request: Request) -> Principal | None:
    """The signed-in user, if any (set by ``AuthMiddleware``)."""
    return getattr(request.state, "principal", None)


def require_staff(request: Request) -> Principal:
    """Dependency: any signed-in user (staff or manager); raises ``Unauthorized``."""
    principal = current_principal(request)
    if principal is None:
        raise Unauthorized("sign in, or send an API token as 'Authorization: Bearer <token>'")
    return principal


def require_manager(principal: Annotated[Principal, Depends(require_staff)]) -> Principal:
    """Dependency: a manager; raises ``Forbidden`` for staff."""
    if not principal.is_manager:
        raise Forbidden("this action needs the manager role")
    return principal


CurrentUser = Annotated[Principal | None, Depends(current_principal)]
StaffUser = Annotated[Principal, Depends(require_staff)]
ManagerUser = Annotated[Principal, Depends(require_manager)]


def safe_next(target: str | None) -> str:
    """Only local paths may follow a login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def make_router(system: System, sessions: Sessions) -> APIRouter:
    """``POST /login`` (form), ``GET|POST /logout`` and the JSON ``/api/session`` pair."""
    router = APIRouter()
    secure = system.settings.public_url.startswith("https://")

    def set_cookie(response: Response, principal: Principal) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            sessions.encode(principal),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure,
        )

    async def check(username: str, password: str) -> Principal:
        try:
            return await run_in_threadpool(authenticate, system.uow, username, password, system.now())
        except DomainError:
            await asyncio.sleep(FAILED_LOGIN_DELAY_SECONDS)  # slows down guessing
            raise

    @router.post("/login", include_in_schema=False)
    async def login_form(
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",  # noqa: A002 (the query name the redirect uses)
    ) -> Response:
        try:
            principal = await check(username, password)
        except DomainError as error:
            query = urlencode({"error": error.code, "next": safe_next(next), "username": username})
            return RedirectResponse(f"/login?{query}", status_code=303)
        response = RedirectResponse(safe_next(next), status_code=303)
        set_cookie(response, principal)
        return response

    @router.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.post("/api/session", tags=["session"], summary="Sign in (sets the session cookie)")
    async def api_login(request: Request) -> JSONResponse:
        """Body ``{"username", "password"}``; 200 ``{username, role}`` with the cookie set;
        401 ``invalid_credentials``; 429 ``account_locked``."""
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("username"), str):
            raise ValidationProblem("username is required", field="username")
        if not isinstance(body.get("password"), str):
            raise ValidationProblem("password is required", field="password")
        principal = await check(body["username"], body["password"])
        response = JSONResponse({"username": principal.username, "role": principal.role})
        set_cookie(response, principal)
        return response

    @router.delete("/api/session", tags=["session"], summary="Sign out", status_code=204)
    async def api_logout() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/api/session", tags=["session"], summary="Who is signed in")
    async def whoami(principal: StaffUser) -> dict:
        return {"username": principal.username, "role": principal.role, "locale": principal.locale}

    return router


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path)}"
