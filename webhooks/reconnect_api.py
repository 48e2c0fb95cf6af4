"""``GET /api/tenants/<slug>/reconnect`` (overview), ``.../reconnect/clients`` (the at-risk clients) and
``POST .../reconnect/campaigns`` (contact them: a campaign, or its dry run).

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


@bp.post("/api/tenants/<slug>/reconnect/campaigns")
@tenant_api
def send_campaign(tenant: Tenant):
    """Contact the at-risk clients of one category (``{"category": NAME}``) or of all (``{"all": true}``).

    ``channel`` sms | email | both (default: the tenant file's). ``dry_run`` true answers who would be
    contacted and sends nothing; without it the campaign is sent (the API is the operator's own tool, so
    no second confirmation). The same rules as ``salonbridge reconnect send``.
    """
    from bridge.campaigns import CHANNELS, preview, send

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="a JSON object is required", reason='e.g. {"category": "manicure", "dry_run": true}'), 400
    category, all_ = body.get("category"), body.get("all") is True
    channel, dry_run = body.get("channel"), body.get("dry_run") is True
    if bool(category) == all_ or (category is not None and not isinstance(category, str)):
        return jsonify(error="give either category (a name) or all: true"), 422
    if channel is not None and channel not in CHANNELS:
        return jsonify(error="unknown channel", known=list(CHANNELS)), 422
    svc = current_services()
    try:
        now = datetime.now(UTC)
        campaign = preview(svc.store, tenant, now, category=category, channel=channel)
        clients = [r.row() for r in campaign.recipients]
        if dry_run or not campaign.recipients:
            return jsonify({**campaign.summary(), "dry_run": dry_run, "clients": clients})
        result = send(svc.store, campaign, svc.policy(tenant.slug), datetime.now(UTC))
    except UnknownFilter as exc:
        return jsonify(error=f"unknown {exc.what}", reason=str(exc), known=exc.known), 400
    except SQLAlchemyError:
        current_app.logger.exception("reconnect campaign of %s failed", tenant.slug)
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
    return jsonify({**campaign.summary(), **result.summary(), "dry_run": False, "clients": clients})


@bp.get("/api/tenants/<slug>/reconnect/results")
@tenant_api
def results(tenant: Tenant):
    """Campaign results, as ``salonbridge report reconnect --format json``: ``from``/``to`` local dates
    (``to`` included), by default the three months up to today."""
    from datetime import date, time, timedelta

    from bridge.store.reconnect_results import months_back, report

    try:
        today = datetime.now(UTC).astimezone(tenant.timezone).date()
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else months_back(last, 3)
    except ValueError:
        return jsonify(error="bad date", reason="from and to are dates: YYYY-MM-DD"), 400
    if last < first:
        return jsonify(error="bad period", reason="to is before from"), 400
    settings = current_services().settings
    latest = date(min(today.year + settings.years_ahead, 9998), 12, 31)
    if first < settings.earliest_date or last > latest:  # also keeps the local day's UTC bounds representable
        return jsonify(error="bad period",
                       reason=f"from and to lie between {settings.earliest_date} and {latest}"), 400
    start = datetime.combine(first, time(0), tzinfo=tenant.timezone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tenant.timezone)
    try:
        return jsonify(report(current_services().store, tenant, start, end).to_json())
    except SQLAlchemyError:
        current_app.logger.exception("reconnect results of %s failed", tenant.slug)
        response = jsonify(error="storage unavailable, retry later")
        response.headers["Retry-After"] = "30"
        return response, 503
