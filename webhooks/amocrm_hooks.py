"""``POST /hooks/<tenant>/amocrm/<token>``: changes people make in amoCRM, stored and reconciled later.

amoCRM waits at most 2 s and disables a webhook after repeated failures, so this only parses, stores
(one event per change, deduplicated) and answers; the reconciling happens in a job.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.amocrm.webhook_form import changes, dedupe_key, parse_form, to_payload
from bridge.intake import enqueue_after_commit
from bridge.store import inbox

bp = Blueprint("amocrm_hooks", __name__)


@bp.post("/hooks/<tenant>/amocrm/<token>")
def amocrm_hook(tenant: str, token: str):
    svc = current_app.extensions["salonbridge"]
    found = svc.tenants.get(tenant)
    expected = found.secret(found.amocrm.webhook_token_env) if found else None
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return jsonify(error="not found"), 404
    now = datetime.now(UTC)
    stored = 0
    try:
        for change in changes(parse_form(request.get_data(as_text=True))):
            receipt = inbox.accept(svc.store, tenant=tenant, source="amocrm", dedupe_key=dedupe_key(change),
                                   payload=to_payload(tenant, change), now=now)
            stored += not receipt.duplicate
            enqueue_after_commit(svc.queue, receipt)
    except SQLAlchemyError:
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    return jsonify(status="accepted", stored=stored), 200
