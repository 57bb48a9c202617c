"""Client lane: one module per screen. Each module exposes ``register(system)``, which adds its
pages (and page-like routes) to NiceGUI's app; ``register_all`` calls every one of them."""

from __future__ import annotations

import importlib
import pkgutil


def register_all(system) -> None:
    """Import every module of this package and call its ``register(system)``."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(system)
