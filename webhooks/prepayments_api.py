"""``GET /api/tenants/<slug>/prepayments?from=&to=&status=&branch=`` (bearer token as ``reconnect_api``).

The same rows as ``salonbridge report prepayments <tenant> --format json``, under ``prepayments``, with the
filters as understood: ``from``/``to`` local days (both included, by creation time), ``status`` repeated
for several, ``branch`` an id or a name. A bad date, status or branch is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge import prepayment_export as export
from bridge.reports import ReportError
from config.tenants import Tenant
from pipelines.prepayment import PrepaymentStatus
from webhooks.api_auth import tenant_api
from webhooks.context import current_services
from webhooks.query_args import day_arg

bp = Blueprint("prepayments_api", __name__)


@bp.get("/api/tenants/<slug>/prepayments")
@tenant_api
def prepayments(tenant: Tenant):
    try:
        chosen = export.filters(tenant, day_arg("from"), day_arg("to"), request.args.getlist("status"),
                                request.args.get("branch") or None)
    except ReportError as exc:
        return jsonify(error="invalid request", reason=str(exc)), 400
    try:
        with current_services().store.session() as s:
            records = [export.record(r, tenant) for r in export.rows(s, tenant, chosen)]
    except SQLAlchemyError:
        current_app.logger.exception("prepayment report of %s failed", tenant.slug)
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    return jsonify(tenant=tenant.slug, filters=chosen.describe(tenant), prepayments=records)


_ERR = {"type": "object", "properties": {"error": {"type": "string"}, "reason": {"type": "string"}}}
_ROW = {"type": "object", "description": "One attempt: " + ", ".join(export.COLUMNS) + "; times in the tenant's "
        "zone (ISO 8601), amounts as decimal strings, the branch by name, the client's name only"}

# endpoint -> {method: operation}, merged into the app's OpenAPI document (webhooks/openapi.py)
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "prepayments": {"get": {
        "operationId": "listPrepayments", "tags": ["prepayments"], "security": [{"tenantToken": []}],
        "summary": "Every prepayment with its status and times, newest first (as `salonbridge report prepayments "
                   "TENANT --format json`)",
        "parameters": [
            *({"name": n, "in": "query", "schema": {"type": "string", "format": "date"},
               "description": f"{'First' if n == 'from' else 'Last'} local day (included), by creation time"}
              for n in ("from", "to")),
            {"name": "status", "in": "query", "explode": True,
             "schema": {"type": "array", "items": {"type": "string", "enum": [s.value for s in PrepaymentStatus]}},
             "description": "Only these statuses (repeat the parameter for several)"},
            {"name": "branch", "in": "query", "schema": {"type": "string"}, "description": "A branch id or name"}],
        "responses": {
            "200": {"description": "The tenant, the filters as understood and the rows", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "tenant": {"type": "string"}, "filters": {"type": "object"},
                    "prepayments": {"type": "array", "items": _ROW}}}}}},
            "400": {"description": "A bad date, a reversed period, an unknown status or branch (`reason` says which)",
                    "content": {"application/json": {"schema": _ERR}}},
            "404": {"description": "Unknown tenant, or a missing or wrong token (no hint which)",
                    "content": {"application/json": {"schema": _ERR}}},
            "503": {"description": "Storage unavailable; retry after the Retry-After header",
                    "content": {"application/json": {"schema": _ERR}}}}}},
}
