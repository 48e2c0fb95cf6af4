"""The per-app bundle of collaborators, reachable from any handler through ``rt()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g

from bridge.amocrm.sandbox.faults import FaultInjector
from bridge.amocrm.sandbox.options import SandboxOptions
from bridge.amocrm.sandbox.ratelimit import RateLimiter
from bridge.amocrm.sandbox.state import Store
from bridge.amocrm.sandbox.stats import Stats
from bridge.amocrm.sandbox.tokens import TokenService

EXTENSION = "amocrm_sandbox"


@dataclass
class Runtime:
    options: SandboxOptions
    store: Store
    tokens: TokenService
    limiter: RateLimiter
    stats: Stats
    faults: FaultInjector
    now: Callable[[], float]  # wall clock for timestamps and token expiry

    def ts(self) -> int:
        return int(self.now())


def rt() -> Runtime:
    return current_app.extensions[EXTENSION]


def acting_user() -> int:
    """The user behind the request's token (``created_by``/``responsible_user_id`` defaults)."""
    return g.principal.user_id
