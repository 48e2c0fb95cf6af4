"""``/_sandbox/*``: test controls outside the emulated API — stats, reset, faults and scripted steps,
limits, tokens, the request journal, the stored data, webhook deliveries, "a person" changing things,
Salesbot launches. Not rate limited, not journaled and not authenticated (the sandbox is a local test tool).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from amocrm_sandbox.api.contacts import apply_contact, check_contact
from amocrm_sandbox.api.leads import apply_lead, check_lead
from amocrm_sandbox.api.tasks import apply_task, check_task
from amocrm_sandbox.faults import Faults, Step
from amocrm_sandbox.hal import base_url
from amocrm_sandbox.jsonio import PLAIN, json_response
from amocrm_sandbox.problems import problem
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.seed import MANAGER_ID
from amocrm_sandbox.state import TABLES
from amocrm_sandbox.tokens import Principal
from amocrm_sandbox.validation import validate_batch

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True) if request.get_data() else {}
    return body if isinstance(body, dict) else {}


@bp.get("/stats")
def stats() -> Response:
    runtime = rt()
    snapshot = runtime.stats.snapshot()
    snapshot["blocked_for_s"] = round(runtime.limiter.blocked_for(runtime.options.subdomain), 3)
    snapshot["limits"] = runtime.limiter.settings()
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
    def clear_faults() -> None:
        runtime.faults.set(Faults())
        runtime.faults.clear_steps()

    for name, action in (("stats", runtime.stats.reset), ("limits", runtime.limiter.reset),
                         ("faults", clear_faults), ("requests", runtime.journal.reset),
                         ("webhooks", runtime.echoes.reset)):
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


@bp.patch("/faults")
def update_faults() -> Response:
    """Change only the fields in the body; the others (and running counters) stay."""
    try:
        faults = rt().faults.update(_body())
    except (TypeError, ValueError) as exc:
        return problem(400, str(exc))
    return json_response(faults.to_dict(), mimetype=PLAIN)


@bp.route("/steps", methods=["GET", "POST", "DELETE"])
def steps() -> Response:
    """Scripted one-offs (``faults.Step``): POST one step or a list to queue them in order; GET lists
    those not used yet; DELETE drops them. E.g. ``{"request": "POST /api/v4/leads", "hang_seconds": 1}``
    stores the next lead create and answers it a second late."""
    faults = rt().faults
    if request.method == "POST":
        raw = request.get_json(silent=True, force=True)
        items = raw if isinstance(raw, list) else [raw]
        try:
            queued = [Step.from_dict(item) for item in items if isinstance(item, dict)]
        except (TypeError, ValueError) as exc:
            return problem(400, str(exc))
        if len(queued) != len(items):
            return problem(400, "a step is an object such as {\"request\": \"POST /api/v4/leads\", \"status\": 502}")
        faults.script(queued)
    elif request.method == "DELETE":
        faults.clear_steps()
    return json_response({"steps": [step.to_dict() for step in faults.steps()]}, mimetype=PLAIN)


@bp.route("/limits", methods=["GET", "POST"])
def limits() -> Response:
    """``requests_per_second`` (rolling second), ``per_second_limit`` (calendar second, null = off) and
    ``block_after_429s`` (null = never block), changed at run time."""
    runtime = rt()
    if request.method == "GET":
        return json_response(runtime.limiter.settings(), mimetype=PLAIN)
    body, changes = _body(), {}
    for name, minimum in (("requests_per_second", 0.1), ("per_second_limit", 1), ("block_after_429s", 1)):
        if name not in body:
            continue
        value = body[name]
        if value is None and name != "requests_per_second":
            changes[name] = None
        elif isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum:
            changes[name] = value if name == "requests_per_second" else int(value)
        else:
            return problem(400, f"{name}: a number ≥ {minimum}" + ("" if name == "requests_per_second" else " or null"))
    unknown = set(body) - {"requests_per_second", "per_second_limit", "block_after_429s"}
    if unknown:
        return problem(400, f"unknown limits: {sorted(unknown)}")
    return json_response(runtime.limiter.configure(**changes), mimetype=PLAIN)


@bp.get("/requests")
def requests_seen() -> Response:
    """The journal: API requests as they arrived (``at`` on the sandbox's monotonic clock, query ``args``
    as [name, value] pairs, parsed ``body``, bearer ``token``) and their ``status``; filter with
    ``?method=POST&path=/api/v4/leads``."""
    calls = rt().journal.calls(request.args.get("method"), request.args.get("path"))
    return json_response({"requests": [c.to_dict() for c in calls]}, mimetype=PLAIN)


@bp.get("/data/<table>")
def stored(table: str) -> Response:
    """The account's stored records of one table, as kept (not as the API renders them)."""
    if table not in (*TABLES, "links", "salesbot_runs"):
        return problem(404, f"no table {table!r}: use one of {', '.join((*TABLES, 'links', 'salesbot_runs'))}")
    with rt().store.read() as data:
        rows = data[table]
        return json_response({table: list(rows.values()) if isinstance(rows, dict) else list(rows)},
                             mimetype=PLAIN)


@bp.get("/webhooks")
def webhook_deliveries() -> Response:
    """Echo deliveries, oldest first: destination, events (``leads.status``…), the form ``body``, and the
    receiver's ``status`` or the ``error`` (``ok`` is null while queued)."""
    return json_response({"deliveries": rt().echoes.deliveries()}, mimetype=PLAIN)


@bp.post("/webhooks/wait")
def wait_for_webhooks() -> Response:
    """Block until every queued delivery was attempted (``{"timeout": seconds}``, default 10)."""
    timeout = _body().get("timeout", 10)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 600:
        return problem(400, "timeout: seconds, at most 600")
    idle = rt().echoes.wait_idle(float(timeout))
    return json_response({"idle": idle, "deliveries": rt().echoes.deliveries()}, 200 if idle else 504, PLAIN)


PERSON_EDITS = {"leads": (check_lead, apply_lead), "tasks": (check_task, apply_task),
                "contacts": (check_contact, apply_contact)}


@bp.post("/person/<entity>/<int:entity_id>")
def person_edits(entity: str, entity_id: int) -> Response:
    """A person changes an entity in amoCRM's interface: the body is what a PATCH of that entity takes
    (``{"is_completed": true, "result": {"text": "Called"}}`` completes a task; ``{"status_id": S,
    "pipeline_id": P}`` moves a lead), plus ``user_id`` (default: the manager, 504142). The change is
    stored with that user as ``updated_by`` and echoed to the webhooks like any other."""
    if entity not in PERSON_EDITS:
        return problem(404, f"a person edits leads, tasks or contacts, not {entity!r}")
    body, runtime = _body(), rt()
    user_id = body.pop("user_id", MANAGER_ID)
    check, apply = PERSON_EDITS[entity]
    with runtime.store.write() as data:
        if not isinstance(user_id, int) or user_id not in data["users"]:
            return problem(400, f"user_id: one of the account's users {sorted(data['users'])}")
        current = data[entity].get(entity_id)
        if current is None:
            return problem(404, f"no {entity} #{entity_id}")
        g.principal = Principal(user_id, long_lived=False)
        [change] = validate_batch([body], lambda item, errs: check(data, item, errs, current))
        done = apply(data, change, runtime.ts(), current)
        answer = {"id": done["id"], "updated_by": done["updated_by"], "updated_at": done["updated_at"]}
    runtime.echo_request_changes()
    return json_response(answer, mimetype=PLAIN)


@bp.post("/tokens")
def tokens() -> Response:
    """Token helpers. ``action``:
    ``pair`` (default) — a fresh access/refresh pair plus the integration's credentials;
    ``code`` — an authorization code to exchange at ``/oauth2/access_token``;
    ``long_lived`` — a long-lived token (``expires_in`` seconds, default 1 year);
    ``expire`` — expire ``access_token`` (or every OAuth access token) now;
    ``revoke`` — revoke everything, as disabling the integration does;
    ``issued`` — every access/refresh pair issued so far (code exchanges and refreshes), oldest first."""
    body, runtime = _body(), rt()
    action = body.get("action", "pair")
    opt = runtime.options
    credentials = {"client_id": opt.client_id, "client_secret": opt.client_secret,
                   "redirect_uri": opt.redirect_uri, "base_url": base_url()}
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
    if action == "issued":
        return json_response({"issued": list(runtime.tokens.issued)}, mimetype=PLAIN)
    return problem(400, f"Unknown action {action!r}: use pair, code, long_lived, expire, revoke or issued")


@bp.get("/salesbot")
def salesbot_runs() -> Response:
    with rt().store.read() as data:
        return json_response({"runs": list(data["salesbot_runs"])}, mimetype=PLAIN)
