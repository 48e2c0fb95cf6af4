"""The one way a view reaches the process's Services (store, queue, tenants), installed by ``create_app``."""

from __future__ import annotations

from flask import Flask, current_app

from bridge.services import Services

EXTENSION = "salonbridge"


def install(app: Flask, services: Services) -> None:
    app.extensions[EXTENSION] = services


def current_services() -> Services:
    """The Services of the app handling the current request."""
    return current_app.extensions[EXTENSION]
