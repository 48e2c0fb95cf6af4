"""``POST /hooks/<tenant>/<source>/<token>``: durable intake of booking-system webhooks.

The answer is 2xx only after the event and its outbox row are committed; queueing happens after
that and, if Redis is unavailable, is left to the sweeper (the event is already safe).
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge import intake
from bridge.booking import registry
from bridge.booking.errors import IgnoredResource, PayloadError
from bridge.outage import DATABASE, outage_of
from config.tenants import Tenant
from webhooks import counters
from webhooks.context import current_services

bp = Blueprint("hooks", __name__)
log = logging.getLogger(__name__)


def _reject(status: int, reason: str, **extra: object) -> tuple[Response, int]:
    counters.rejected(current_services().queue, status, (request.view_args or {}).get("tenant"))
    return jsonify(error=reason, **extra), status


def _authorized_tenant(slug: str, source: str, token: str) -> Tenant | None:
    """The tenant if the source is one it uses and the token matches; None otherwise (no hint which)."""
    tenant = current_services().tenants.get(slug)
    if tenant is None or not registry.accepts(tenant.booking.kind, source):
        return None
    expected = tenant.secret(tenant.booking.webhook_token_env)
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    return tenant


@bp.post("/hooks/<tenant>/<source>/<token>")
def booking_hook(tenant: str, source: str, token: str):
    found = _authorized_tenant(tenant, source, token)
    if found is None:
        return _reject(404, "not found")
    if request.mimetype != "application/json":
        return _reject(415, "expected Content-Type: application/json")
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        return _reject(400, f"malformed JSON: {exc}")
    except RecursionError:
        return _reject(400, "malformed JSON: nested too deeply")
    if not isinstance(body, dict):
        return _reject(400, "malformed JSON: expected an object")
    now = datetime.now(UTC)
    try:
        event = intake.normalize(source, body, found, now, current_services().limits)
    except IgnoredResource as exc:
        return jsonify(status="ignored", reason=str(exc)), 202
    except PayloadError as exc:
        return _reject(422, str(exc), fields=exc.fields)
    svc = current_services()
    try:
        receipt = intake.store_event(svc.store, event, now)
    except SQLAlchemyError as exc:
        if outage_of(exc) is DATABASE:  # said once per outage, not once per delivery
            DATABASE.down(exc)
        else:
            log.exception("database unavailable during intake for tenant %s", tenant)
        response, status = _reject(503, "storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, status
    DATABASE.up()
    if receipt.duplicate:
        counters.duplicate(svc.queue, found.slug)
        return jsonify(status="duplicate", event_id=receipt.event_id), 200
    counters.received(svc.queue, found.slug)
    queued = intake.enqueue_after_commit(svc.queue, receipt)
    return jsonify(status="accepted", event_id=receipt.event_id, queued=queued), 202
