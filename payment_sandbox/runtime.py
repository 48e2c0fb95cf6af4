"""The app's State, reachable from any handler."""

from __future__ import annotations

from flask import current_app

from payment_sandbox.state import State

EXTENSION = "payment_sandbox"


def state() -> State:
    return current_app.extensions[EXTENSION]
