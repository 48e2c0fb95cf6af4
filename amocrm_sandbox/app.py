"""The application factory: wires the store, token service, limiter, stats and faults into one Flask app."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from amocrm_sandbox import board, control, oauth
from amocrm_sandbox.api import (
    account,
    complex,
    contacts,
    custom_fields,
    leads,
    links,
    notes,
    pipelines,
    salesbot,
    tasks,
    webhooks,
)
from amocrm_sandbox.echoes import Echoes
from amocrm_sandbox.faults import FaultInjector, Faults
from amocrm_sandbox.gate import after_api_request, before_api_request
from amocrm_sandbox.journal import Journal
from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.problems import ApiError, problem
from amocrm_sandbox.ratelimit import RateLimiter
from amocrm_sandbox.runtime import EXTENSION, Runtime
from amocrm_sandbox.seed import seed_account
from amocrm_sandbox.state import Store
from amocrm_sandbox.stats import Stats
from amocrm_sandbox.tokens import TokenService

# complex before leads: both own /api/v4/leads/…, and the specific rule must not be shadowed.
BLUEPRINTS = (oauth, account, pipelines, custom_fields, contacts, complex, leads, tasks, notes, links, webhooks,
              salesbot, control, board)


def create_sandbox_app(
    state_path: Path | None,
    *,
    requests_per_second: float = 7.0,
    block_after_429s: int | None = 20,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], float] = time.time,
    options: SandboxOptions | None = None,
) -> Flask:
    """An amoCRM API v4 emulator persisted to ``state_path`` (None = memory only).

    ``clock`` drives the limiter and stats (monotonic); ``now`` drives timestamps and token expiry (wall
    clock). Everything else (block period, token TTLs, OAuth client, timezone, …) is in ``options``;
    ``requests_per_second``/``block_after_429s`` given here win over the ones in ``options``.
    """
    opts = replace(options or SandboxOptions(), requests_per_second=requests_per_second,
                   block_after_429s=block_after_429s)
    store = Store(state_path, lambda: seed_account(opts, int(now())))
    with store.write() as data:  # a reopened file takes this start's subdomain/timezone
        data["account"].update(subdomain=opts.subdomain, timezone=opts.timezone)
    stats = Stats(clock, now)
    runtime = Runtime(
        options=opts, store=store, tokens=TokenService(store, opts, now),
        limiter=RateLimiter(opts.requests_per_second, opts.block_after_429s, opts.block_window_s,
                            opts.block_seconds, clock, per_second_limit=opts.per_second_limit, wall=now),
        stats=stats, faults=FaultInjector(faults), journal=Journal(opts.journal_size),
        echoes=Echoes(store, opts.webhook_timeout_s, stats.note, now), now=now,
    )
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = runtime
    app.before_request(before_api_request)
    app.after_request(after_api_request)
    app.register_error_handler(ApiError, lambda exc: exc.response())
    app.register_error_handler(HTTPException, _http_error)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app


def _http_error(exc: HTTPException) -> Response:
    """Routing errors in amoCRM's words (``Cannot GET https://…``), not Werkzeug's HTML."""
    status = exc.code or 500
    if status == 404:
        return problem(404, f"Cannot {request.method} {request.url}")
    if status == 405:
        return problem(405, "Method Not Allowed")
    return problem(status, exc.description or "Error")
