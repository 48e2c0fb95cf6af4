"""The client base over JSON (bearer token as ``reconnect_api``): reports, segments and the card.

- ``GET /api/tenants/<slug>/reports/<name>?from=&to=&branch=``: one of seed 001's five reports, the same
  tables as ``salonbridge report <name> <tenant> --format json``;
- ``GET /api/tenants/<slug>/clients?<filter>=<value>&segment=<saved>&limit=``: a segment's clients;
- ``POST /api/tenants/<slug>/clients`` (a card as JSON) and ``PATCH .../clients/<id>``: add or edit a
  client by hand; ``GET .../clients/<id>``: the card with its whole history;
- ``POST .../segments/tag`` and ``POST .../segments/campaign`` (``{"filters": {...}, "segment": NAME, ...}``):
  tag a segment's clients in amoCRM, or send it a message campaign (``dry_run`` to see who first).
Unknown filters or fields, reversed ranges and periods are a 400 naming the problem.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge import segment_campaigns
from bridge.client_card import CardError, card_values, queue_contact_sync
from bridge.reports import REPORTS, ReportError, branch_id, build, period_for, segment_table
from bridge.store import clients as repo
from bridge.tables import json_rows
from config.segment_filters import SEGMENT_FILTERS
from config.tenants import Tenant
from pipelines.events import jsonable
from pipelines.segments import SegmentError, combine, parse_segment
from webhooks.api_auth import tenant_api
from webhooks.context import current_services
from webhooks.query_args import day_arg

bp = Blueprint("clients_api", __name__)
MAX_ROWS = 10_000
_NOT_FILTERS = {"segment", "limit"}


def _bad(reason: str, **more: Any) -> tuple:
    return jsonify(error="invalid request", reason=reason, **more), 400


def _unavailable(tenant: Tenant) -> tuple:
    current_app.logger.exception("client API of %s failed", tenant.slug)
    response = jsonify(error="storage unavailable, retry later")
    response.headers["Retry-After"] = "30"
    return response, 503


@bp.get("/api/tenants/<slug>/reports/<name>")
@tenant_api
def report(tenant: Tenant, name: str):
    name = name.replace("-", "_")
    if name not in REPORTS:
        return jsonify(error="unknown report", known=list(REPORTS)), 404
    today = datetime.now(tenant.timezone).date()
    try:
        period = period_for(name, day_arg("from"), day_arg("to"), today)
        branch = branch_id(tenant, request.args.get("branch") or None)
    except ReportError as exc:
        return _bad(str(exc))
    try:
        with current_services().store.reading() as conn:
            tables = build(conn, tenant, name, period, branch, today)
            body = {"report": name, "tenant": tenant.slug, "from": period.start.isoformat(),
                    "to": period.end.isoformat(), "branch": branch, "tables": {t.name: json_rows(t) for t in tables}}
    except SQLAlchemyError:
        return _unavailable(tenant)
    return jsonify(body)


@bp.get("/api/tenants/<slug>/clients")
@tenant_api
def segment(tenant: Tenant):
    filters = {k: v for k, v in request.args.items() if k not in _NOT_FILTERS}
    try:
        limit = min(int(request.args.get("limit", 1000)), MAX_ROWS)
        saved = request.args.get("segment")
        base = []
        if saved:
            if saved not in tenant.clients.segments:
                return _bad(f"no saved segment {saved!r}", known=list(tenant.clients.segments))
            base.append(parse_segment(tenant.clients.segments[saved]))
        chosen = combine(*base, parse_segment(filters))
    except (SegmentError, ValueError) as exc:
        return _bad(str(exc))
    try:
        with current_services().store.reading() as conn:
            table = segment_table(conn, tenant, chosen)
            table.rows = list(islice(table.rows, limit + 1))
            rows = json_rows(table)
    except SQLAlchemyError:
        return _unavailable(tenant)
    return jsonify(filters=chosen.describe(), clients=rows[:limit], truncated=len(rows) > limit)


def _chosen(tenant: Tenant, body: dict[str, Any]) -> Any:
    """The segment a POST names: a saved one (``segment``) narrowed by ``filters``; SegmentError/ValueError."""
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise ValueError("filters: expected an object of filter names to values")
    base = []
    saved = body.get("segment")
    if saved:
        if saved not in tenant.clients.segments:
            raise ValueError(f"no saved segment {saved!r}; saved: {', '.join(tenant.clients.segments) or '(none)'}")
        base.append(parse_segment(tenant.clients.segments[saved]))
    return combine(*base, parse_segment({str(k): v for k, v in filters.items()}))


@bp.post("/api/tenants/<slug>/segments/tag")
@tenant_api
def tag_segment(tenant: Tenant):
    body = _card_body()
    if body is None or not isinstance(body.get("tags"), list):
        return _bad('expected {"filters": {...}, "segment": NAME, "tags": [TAG, ...]}')
    try:
        chosen = _chosen(tenant, body)
        result = segment_campaigns.tag(current_services().store, tenant, chosen, body["tags"], datetime.now(UTC))
    except (SegmentError, CardError, ValueError) as exc:
        return _bad(str(exc))
    except SQLAlchemyError:
        return _unavailable(tenant)
    return jsonify(filters=chosen.describe(), tags=sorted(set(body["tags"])), **result)


@bp.post("/api/tenants/<slug>/segments/campaign")
@tenant_api
def campaign(tenant: Tenant):
    body = _card_body()
    if body is None:
        return _bad('expected {"filters": {...}, "segment": NAME, "name": ..., "text": ..., "channel": ..., '
                    '"dry_run": false}')
    svc = current_services()
    try:
        chosen = _chosen(tenant, body)
        people = segment_campaigns.audience(svc.store, tenant, chosen, name=str(body.get("name") or ""),
                                            text=str(body.get("text") or ""), channel=body.get("channel"))
        dry_run = bool(body.get("dry_run"))
        answer: dict[str, Any] = {**people.summary(), "filters": chosen.describe(), "dry_run": dry_run}
        if dry_run:
            return jsonify(**answer, clients=[r.row() for r in people.recipients])
        sent = segment_campaigns.send(svc.store, people, svc.policy(tenant.slug), datetime.now(UTC))
    except (SegmentError, ValueError) as exc:
        return _bad(str(exc))
    except SQLAlchemyError:
        return _unavailable(tenant)
    return jsonify(**answer, **sent.summary())


def _card_body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@bp.post("/api/tenants/<slug>/clients")
@tenant_api
def add(tenant: Tenant):
    body = _card_body()
    if body is None:
        return _bad("expected a JSON object with the card's fields")
    now = datetime.now(UTC)
    try:
        values = card_values(tenant, body)
        with current_services().store.session() as s:
            client = repo.add(s, tenant.slug, values, now)
            queue_contact_sync(s, tenant.slug, client, now)
            card = repo.card(s, client, tenant.timezone)
    except (CardError, repo.ClientConflict, ValueError) as exc:
        return _bad(str(exc))
    return jsonify(jsonable(card)), 201


@bp.get("/api/tenants/<slug>/clients/<int:client_id>")
@tenant_api
def show(tenant: Tenant, client_id: int):
    with current_services().store.session() as s:
        client = repo.find(s, tenant.slug, str(client_id))
        if client is None:
            return jsonify(error="no such client"), 404
        return jsonify(jsonable(repo.card(s, client, tenant.timezone)))


@bp.patch("/api/tenants/<slug>/clients/<int:client_id>")
@tenant_api
def edit(tenant: Tenant, client_id: int):
    body = _card_body()
    if not body:
        return _bad("expected a JSON object with the fields to change")
    now = datetime.now(UTC)
    try:
        values = card_values(tenant, body)
        with current_services().store.session() as s:
            client = repo.find(s, tenant.slug, str(client_id))
            if client is None:
                return jsonify(error="no such client"), 404
            changed = repo.edit(s, client, values, now)
            if changed:
                queue_contact_sync(s, tenant.slug, client, now)
            card = repo.card(s, client, tenant.timezone)
    except (CardError, repo.ClientConflict) as exc:
        return _bad(str(exc))
    return jsonify({**jsonable(card), "changed": changed})


_SECURITY = [{"tenantToken": []}]
_ERR = {"type": "object", "properties": {"error": {"type": "string"}, "reason": {"type": "string"}}}


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


_REFUSED = {"400": {"description": "Unknown filter or field, reversed range or period (`reason` says which)",
                    "content": {"application/json": {"schema": _ERR}}},
            "404": {"description": "Unknown tenant, report or client, or a missing or wrong token",
                    "content": {"application/json": {"schema": _ERR}}}}
_CARD = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "Card fields: name, phone, email, gender, birthday, card_type, balance, "
    "blacklisted, comment, acquisition, reason, tags, opted_out"}}}}

# endpoint -> {method: operation}, merged into the app's OpenAPI document (webhooks/openapi.py)
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "report": {"get": {
        "operationId": "getClientReport", "tags": ["clients"], "security": _SECURITY,
        "summary": "A client report: " + ", ".join(REPORTS) + " (as `salonbridge report NAME TENANT --format json`)",
        "parameters": [*({"name": n, "in": "query", "schema": {"type": "string", "format": "date"}}
                         for n in ("from", "to")), {"name": "branch", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": _answer("The report's tables by name"), **_REFUSED}}},
    "segment": {"get": {
        "operationId": "listSegmentClients", "tags": ["clients"], "security": _SECURITY,
        "summary": "A segment's clients: every filter of docs/clients.md as a query parameter, `segment` a saved one",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                       for n in ("segment", "limit", *SEGMENT_FILTERS)],
        "responses": {"200": _answer("filters, clients, truncated"), **_REFUSED}}},
    "add": {"post": {
        "operationId": "addClient", "tags": ["clients"], "security": _SECURITY, "summary": "Add a client by hand",
        "requestBody": _CARD, "responses": {"201": _answer("The new card"), **_REFUSED}}},
    "show": {"get": {
        "operationId": "getClient", "tags": ["clients"], "security": _SECURITY,
        "summary": "A client's card and whole history", "responses": {"200": _answer("The card"), **_REFUSED}}},
    "tag_segment": {"post": {
        "operationId": "tagSegment", "tags": ["clients"], "security": _SECURITY,
        "summary": "Add tags to a segment's clients, here and on their amoCRM contacts (the next sync, batched)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "filters (docs/clients.md), segment (a saved one), tags"}}}},
        "responses": {"200": _answer("clients, newly_tagged"), **_REFUSED}}},
    "campaign": {"post": {
        "operationId": "sendSegmentCampaign", "tags": ["clients"], "security": _SECURITY,
        "summary": "Send a segment a message campaign (blacklisted and opted-out clients never messaged)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "filters, segment, name (once per client), text, channel, dry_run"}}}},
        "responses": {"200": _answer("recipients, left_out, contacted, messages, skipped"), **_REFUSED}}},
    "edit": {"patch": {
        "operationId": "editClient", "tags": ["clients"], "security": _SECURITY,
        "summary": "Change a client's card (only the fields given)", "requestBody": _CARD,
        "responses": {"200": _answer("The card and the fields changed"), **_REFUSED}}},
}
