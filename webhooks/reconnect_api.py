"""``GET /api/tenants/<slug>/reconnect`` (overview) and ``.../reconnect/clients`` (the at-risk clients).

The same content as ``salonbridge reconnect <tenant> --format json``: the overview per category, per
branch and in total, and the clients to contact with complete contact data (the API is the operator's).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.store.reconnect import Scan, UnknownFilter, scan
from config.tenants import Tenant
from webhooks.api_auth import tenant_api
from webhooks.context import current_services

bp = Blueprint("reconnect_api", __name__)


def _scan(tenant: Tenant) -> Scan | tuple:
    category = request.args.get("category") or None
    branch = request.args.get("branch") or None
    try:
        return scan(current_services().store, tenant, datetime.now(UTC), category=category,
                    branch=branch)
    except UnknownFilter as exc:
        return jsonify(error=f"unknown {exc.what}", reason=str(exc), known=exc.known), 400
    except SQLAlchemyError:
        current_app.logger.exception("reconnect scan of %s failed", tenant.slug)
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503


@bp.get("/api/tenants/<slug>/reconnect")
@tenant_api
def overview(tenant: Tenant):
    result = _scan(tenant)
    return jsonify(result.overview_json()) if isinstance(result, Scan) else result


@bp.get("/api/tenants/<slug>/reconnect/clients")
@tenant_api
def clients(tenant: Tenant):
    result = _scan(tenant)
    return jsonify(result.clients_json()) if isinstance(result, Scan) else result
