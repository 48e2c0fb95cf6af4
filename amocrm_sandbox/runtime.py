"""The per-app bundle of collaborators, reachable from any handler through ``rt()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g

from amocrm_sandbox.echoes import Echoes
from amocrm_sandbox.faults import FaultInjector
from amocrm_sandbox.hal import base_url
from amocrm_sandbox.journal import Journal
from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.ratelimit import RateLimiter
from amocrm_sandbox.state import Store
from amocrm_sandbox.stats import Stats
from amocrm_sandbox.tokens import TokenService

EXTENSION = "amocrm_sandbox"


@dataclass
class Runtime:
    options: SandboxOptions
    store: Store
    tokens: TokenService
    limiter: RateLimiter
    stats: Stats
    faults: FaultInjector
    journal: Journal
    echoes: Echoes
    now: Callable[[], float]  # wall clock for timestamps and token expiry

    def ts(self) -> int:
        return int(self.now())

    def echo_request_changes(self) -> None:
        """Hand this request's noted changes to the webhook sender (after the request succeeded)."""
        changes = g.pop("echoes", None)
        if changes:
            self.echoes.publish(changes, base_url())


def rt() -> Runtime:
    return current_app.extensions[EXTENSION]


def acting_user() -> int:
    """The user behind the request's token (``created_by``/``responsible_user_id`` defaults)."""
    return g.principal.user_id
