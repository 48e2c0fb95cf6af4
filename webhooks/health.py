"""``/healthz``: is the database reachable, is Redis reachable."""

from __future__ import annotations

from flask import Blueprint, jsonify

from webhooks.context import current_services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    svc = current_services()
    checks: dict[str, str] = {}
    for name, probe in (("database", svc.store.ping), ("redis", svc.queue.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure of a dependency is "down", with its reason
            checks[name] = f"down: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503
