"""Audit of every route: each is either on the public list or refuses anonymous access
(pages redirect to /login from the server; API routes answer 401 problem+json)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from nicegui import app
from nicegui.testing import User
from starlette.routing import Route

from api.auth import PUBLIC_API, is_public
from tests.ui_support import STAFF_PASSWORD, add_staff, sign_in

PUBLIC_PAGES = {"/login", "/logout", "/kiosk", "/pay/{booking_id}", "/payments/{payment_id}/return", "/favicon.ico"}


def concrete(path: str) -> str:
    """Fill path parameters with values that exist nowhere."""
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path).replace(":path", "")


def flat_routes(routes) -> list[Route]:
    """Routes, with FastAPI's included routers opened up (our routers carry their full prefix)."""
    flat: list[Route] = []
    for route in routes:
        if hasattr(route, "original_router"):
            flat.extend(flat_routes(route.original_router.routes))
        elif isinstance(route, Route):
            flat.append(route)
    return flat


def app_routes() -> list[tuple[str, str]]:
    found = []
    for route in flat_routes(app.routes):
        if route.path.startswith("/_nicegui"):
            continue
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((method, route.path))
    return found


async def test_every_route_is_public_or_refuses_anonymous_access(desk_env, user: User):
    await user.open("/login")  # builds the app
    routes = app_routes()
    assert ("GET", "/") in routes and ("GET", "/api/bookings") in routes
    checked = 0
    for method, path in routes:
        if path.startswith("/api"):
            if (method, path) in PUBLIC_API:
                continue
            answer = await user.http_client.request(method, concrete(path), follow_redirects=False)
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json()["code"] == "unauthorized"
        else:
            if path in PUBLIC_PAGES or path.startswith("/sandbox/"):
                assert is_public(concrete(path)), path
                continue
            answer = await user.http_client.request(method, concrete(path), follow_redirects=False)
            assert answer.status_code in (302, 303, 307), (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), path
        checked += 1
    assert checked >= 6


async def test_public_api_list_names_real_routes(desk_env, user: User):
    await user.open("/login")
    api_routes = {(m, p) for m, p in app_routes() if p.startswith("/api")}
    assert PUBLIC_API <= api_routes
    assert any(isinstance(r, APIRoute) for r in flat_routes(app.routes))


async def test_staff_cannot_replay_dead_letters_but_managers_may_try(desk_env, user: User):
    await user.open("/login")
    add_staff(user)
    await sign_in(user, "frontdesk", STAFF_PASSWORD)
    answer = await user.http_client.post("/api/deliveries/1/replay")
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert (await user.http_client.get("/api/deliveries")).status_code == 200
    await sign_in(user)
    answer = await user.http_client.post("/api/deliveries/1/replay")
    assert answer.status_code == 404  # allowed, but there is no such delivery


async def test_api_docs_are_served_without_a_cdn(user: User):
    await user.open("/login")
    page = await user.http_client.get("/api/docs")
    assert page.status_code == 200 and "/api/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    script = await user.http_client.get("/api/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_openapi_documents_every_error_as_problem_json(user: User):
    await user.open("/login")
    spec = (await user.http_client.get("/api/openapi.json")).json()
    errors = [
        (method, path, status, list(answer.get("content", {})))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith(("4", "5"))
    ]
    assert errors, "no error responses documented"
    assert all(content == ["application/problem+json"] for *_, content in errors), errors
    booking = spec["paths"]["/api/bookings"]["post"]["responses"]
    assert {"400", "404", "409", "422"} <= set(booking)
