"""Booking Desk: the composition root and command line.

``python app.py`` (or ``make run``) serves the API, the pages and, with ``BOOKING_BACKGROUND=1``,
the outbox relay, consumers and scheduler. ``create_app(settings)`` builds everything on NiceGUI's
FastAPI app without starting threads, so tests (NiceGUI's pytest plugin included, which runs this
file as ``__main__``) can import it.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import sys
import threading

from nicegui import Client, app, background_tasks, ui

from api import auth, bookings, payments, resources, staff, webhooks
from api.problems import install_problem_handlers
from components.frame import CONNECT_TIMEOUT_SECONDS
from domain.accounts import ensure_admin
from pages import register_all
from settings import Settings, load_settings_or_exit
from system import System, bootstrap, start_background, start_web_only, stop_background

log = logging.getLogger("booking_desk")


def create_app(settings: Settings) -> System:
    """Wire the ``System`` into NiceGUI's app: API routers, pages, error mapping, lifecycle hooks.

    Background work is started in ``app.on_startup`` only, and only if ``settings.background``.
    """
    system = bootstrap(settings)
    app.state.system = system  # for tests and tools; code receives the system explicitly
    generated = ensure_admin(system.uow, settings.admin_password, system.now())
    if generated:
        print(f"Created the manager account 'admin' with password: {generated}  (shown once)", flush=True)
    sessions = auth.Sessions(settings.storage_secret)
    app.add_middleware(auth.AuthMiddleware, system=system, sessions=sessions)
    install_problem_handlers(app)
    app.openapi_url = "/api/openapi.json"
    app.docs_url = None  # served below with Swagger UI's files from the package, so it works offline
    app.redoc_url = None
    app.title = "Booking Desk API"
    add_api_docs()
    app.include_router(auth.make_router(system, sessions))
    for module in (resources, staff, bookings, payments, webhooks):
        app.include_router(module.make_router(system))
    register_all(system)

    async def prune_unconnected_clients() -> None:
        # NiceGUI keeps a page's client 60 s when its websocket never connects; drop them sooner
        # and give the freed memory back to the operating system.
        while True:
            await asyncio.sleep(5)
            before = len(Client.instances)
            Client.prune_instances(client_age_threshold=CONNECT_TIMEOUT_SECONDS + 5)
            if len(Client.instances) < before:
                release_memory()

    async def on_startup() -> None:
        system.live.attach(asyncio.get_running_loop())
        background_tasks.create(prune_unconnected_clients(), name="prune-unconnected-clients")
        if settings.background:
            start_background(system)
        else:
            start_web_only(system)

    async def on_shutdown() -> None:
        stop_background(system)

    app.on_startup(on_startup)
    app.on_shutdown(on_shutdown)
    return system


def add_api_docs() -> None:
    """``/api/docs``: Swagger UI for ``/api/openapi.json``, its scripts served from the
    ``swagger-ui-bundle`` package instead of a CDN (an offline desk still gets its docs)."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html

    app.add_static_files("/api/docs/static", swagger_ui_bundle.swagger_ui_path)
    for route in app.routes:  # the files are not part of the API's description
        if getattr(route, "path", "").startswith("/api/docs/static"):
            route.include_in_schema = False

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs():
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="Booking Desk API",
            swagger_js_url="/api/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/static/swagger-ui.css",
            swagger_favicon_url="/api/docs/static/favicon-32x32.png",
        )


def run_worker(settings: Settings) -> None:
    """``python app.py worker``: the relay, consumers and scheduler jobs without the web UI, so
    consumers scale apart from web processes. Stops on SIGINT or SIGTERM."""
    system = bootstrap(settings, role="worker")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    start_background(system)
    print(f"Booking Desk worker running (database {_safe(settings.database_url)})", flush=True)
    stopping.wait()
    stop_background(system)


def release_memory() -> None:
    """Collect garbage and ask glibc to return free heap pages to the OS (no-op elsewhere)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    """``python app.py [serve|worker]``: start the web app (and background work) on the settings'
    address, or a worker without the UI."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
    # Under NiceGUI's pytest plugin this file runs as __main__ with pytest's own arguments.
    command = argv[1] if len(argv) > 1 and "PYTEST_CURRENT_TEST" not in os.environ else "serve"
    if command not in {"serve", "worker"}:
        print(f"error: unknown command {command!r}; use: python app.py [serve|worker]", file=sys.stderr)
        raise SystemExit(2)
    settings = load_settings_or_exit()
    if command == "worker":
        run_worker(settings)
        return
    system = create_app(settings)
    where = f"data in {settings.data_dir}, database {_safe(settings.database_url)}"
    print(f"Booking Desk on {settings.public_url}  ({where})", flush=True)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="Booking Desk",
        reload=False,
        show=False,
        fastapi_docs=True,
        favicon="📅",
    )
    del system


def _safe(url: str) -> str:
    """A database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main(sys.argv)
