"""``POST /hooks/<tenant>/amocrm/<token>``: changes people make in amoCRM, stored and reconciled later.

amoCRM waits at most 2 s and disables a webhook after repeated failures, so this only parses, stores
(one event per change, deduplicated) and answers; the reconciling happens in a job. A body that is not a
usable amoCRM form is refused (400/422 with the reason) before anything is stored, and every change of
one delivery is stored in one transaction: all of them or none.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge import intake
from bridge.amocrm.webhook_form import FormError
from webhooks.context import current_services

bp = Blueprint("amocrm_hooks", __name__)


@bp.post("/hooks/<tenant>/amocrm/<token>")
def amocrm_hook(tenant: str, token: str):
    svc = current_services()
    found = svc.tenants.get(tenant)
    expected = found.secret(found.amocrm.webhook_token_env) if found else None
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return jsonify(error="not found"), 404
    try:
        receipts = intake.receive_amocrm(svc.store, svc.queue, tenant, request.get_data(as_text=True),
                                         datetime.now(UTC), svc.limits)
    except FormError as exc:
        return jsonify(error="not a usable amoCRM webhook", reason=str(exc)), exc.status
    except SQLAlchemyError:
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    return jsonify(status="accepted", stored=sum(not r.duplicate for r in receipts)), 200
