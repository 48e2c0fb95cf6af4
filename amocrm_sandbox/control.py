"""``/_sandbox/*``: test controls outside the emulated API — stats, reset, faults, tokens, launches.
Not rate limited and not authenticated (the sandbox is a local test tool)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from amocrm_sandbox.faults import Faults
from amocrm_sandbox.jsonio import PLAIN, json_response
from amocrm_sandbox.problems import problem
from amocrm_sandbox.runtime import rt

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True) if request.get_data() else {}
    return body if isinstance(body, dict) else {}


@bp.get("/stats")
def stats() -> Response:
    runtime = rt()
    snapshot = runtime.stats.snapshot()
    snapshot["blocked_for_s"] = round(runtime.limiter.blocked_for(runtime.options.subdomain), 3)
    return json_response(snapshot, mimetype=PLAIN)


@bp.post("/reset")
def reset() -> Response:
    """Reset data (to a fresh account), stats, limiter and faults; OAuth tokens survive unless
    ``{"tokens": true}``, so a connected client keeps working across test cases."""
    body, runtime = _body(), rt()
    done = []
    if body.get("data", True):
        runtime.store.reset(keep_tokens=not body.get("tokens", False))
        done.append("data")
    for name, action in (("stats", runtime.stats.reset), ("limits", runtime.limiter.reset),
                         ("faults", lambda: runtime.faults.set(Faults()))):
        if body.get(name, True):
            action()
            done.append(name)
    return json_response({"reset": done}, mimetype=PLAIN)


@bp.get("/faults")
def get_faults() -> Response:
    return json_response(rt().faults.current.to_dict(), mimetype=PLAIN)


@bp.post("/faults")
def set_faults() -> Response:
    """Replace the active faults with the body (fields of ``Faults``; omitted ones take defaults)."""
    try:
        faults = Faults.from_dict(_body())
    except (TypeError, ValueError) as exc:
        return problem(400, str(exc))
    rt().faults.set(faults)
    return json_response(faults.to_dict(), mimetype=PLAIN)


@bp.post("/tokens")
def tokens() -> Response:
    """Token helpers. ``action``:
    ``pair`` (default) — a fresh access/refresh pair plus the integration's credentials;
    ``code`` — an authorization code to exchange at ``/oauth2/access_token``;
    ``long_lived`` — a long-lived token (``expires_in`` seconds, default 1 year);
    ``expire`` — expire ``access_token`` (or every OAuth access token) now;
    ``revoke`` — revoke everything, as disabling the integration does."""
    body, runtime = _body(), rt()
    action = body.get("action", "pair")
    opt = runtime.options
    credentials = {"client_id": opt.client_id, "client_secret": opt.client_secret,
                   "redirect_uri": opt.redirect_uri, "base_url": request.host_url.rstrip("/")}
    if action == "pair":
        return json_response({**runtime.tokens.issue_pair(request.host), **credentials}, mimetype=PLAIN)
    if action == "code":
        return json_response({"code": runtime.tokens.issue_code(), **credentials}, mimetype=PLAIN)
    if action == "long_lived":
        ttl = int(body.get("expires_in", 365 * 86400))
        return json_response({**runtime.tokens.issue_long_lived(request.host, ttl), **credentials}, mimetype=PLAIN)
    if action == "expire":
        return json_response({"expired": runtime.tokens.expire(body.get("access_token"))}, mimetype=PLAIN)
    if action == "revoke":
        runtime.tokens.revoke_all()
        return json_response({"revoked": True}, mimetype=PLAIN)
    return problem(400, f"Unknown action {action!r}: use pair, code, long_lived, expire or revoke")


@bp.get("/salesbot")
def salesbot_runs() -> Response:
    with rt().store.read() as data:
        return json_response({"runs": list(data["salesbot_runs"])}, mimetype=PLAIN)
