"""``POST /hooks/<tenant>/pay/<provider>``: LiqPay and WayForPay server-to-server callbacks.

The URL carries no token: a callback proves itself by its signature, keyed with the tenant's secret
for that provider. The body is read raw (WayForPay posts JSON under a form content type) and stored
as received before anything else; ``bridge.payments.callbacks`` has the whole table of answers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify
from flask import request as flask_request
from sqlalchemy.exc import SQLAlchemyError

from bridge.outage import DATABASE, outage_of
from bridge.payments import NotConfigured, provider_for
from bridge.payments.callbacks import receive
from bridge.payments.effects import record_change
from webhooks import counters
from webhooks.context import current_services

bp = Blueprint("payment_hooks", __name__)
log = logging.getLogger(__name__)
# app.extensions key of the bridge.payments.callbacks.AfterChange run inside a callback's transaction;
# ``install`` puts the playbook's there: what a change shows to staff and the client, recorded as actions.
AFTER_CHANGE = "salonbridge.payments.after_change"


def install(app, services) -> None:  # noqa: ANN001 - the Flask app and our Services
    def record(session, row, change, report) -> None:  # noqa: ANN001
        occasion = f"callback:{report.provider_status}:{report.provider_payment_id or ''}"
        record_change(session, services.policy(row.tenant), row, change, datetime.now(UTC), occasion)

    app.extensions.setdefault(AFTER_CHANGE, record)


@bp.post("/hooks/<tenant>/pay/<provider>")
def payment_hook(tenant: str, provider: str):
    svc = current_services()
    found = svc.tenants.get(tenant)
    if found is None or found.prepayment is None or found.prepayment.provider_settings(provider) is None:
        return jsonify(error="not found"), 404
    try:
        adapter = provider_for(found, provider)
    except NotConfigured as exc:  # a secret missing from this process: the provider will retry
        log.error("payment callback for %s cannot be verified: %s", tenant, exc)
        response = jsonify(error="payments not configured, retry later")
        response.headers["Retry-After"] = "300"
        return response, 503
    try:
        result = receive(svc.store, found.slug, adapter, flask_request.get_data(cache=False),
                         flask_request.content_type, datetime.now(UTC), current_app.extensions.get(AFTER_CHANGE))
    except SQLAlchemyError as exc:
        if outage_of(exc) is DATABASE:  # said once per outage
            DATABASE.down(exc)
        else:
            log.exception("database unavailable for a %s callback of tenant %s", provider, tenant)
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    if result.answer.status >= 400:
        counters.rejected(svc.queue, result.answer.status, found.slug)
    return Response(result.answer.body, result.answer.status, content_type=result.answer.content_type)

