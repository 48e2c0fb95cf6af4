"""``/api/openapi.json``: the HTTP interface as OpenAPI 3.1, generated; ``/api/docs/``: the same, rendered.

Bodies and answers come from the marshmallow schemas that validate them (``GenericEventSchema`` for
booking events, ``webhooks.api_schemas`` for the rest) through apispec's marshmallow plugin, so there is
no hand-kept JSON Schema to drift. Paths come from the app's own URL map: every route's endpoint has
an entry in ``OPERATIONS`` (operation id, tag, answers), and tests/integration/test_openapi.py fails
on a route without one. The page is Swagger UI as the ``flask-swagger-ui`` package ships it, served
from this app: it loads nothing from another host.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from flask_swagger_ui import get_swaggerui_blueprint
from marshmallow import fields

from bridge.booking.generic import GenericEventSchema
from bridge.booking.parsing import Id, IsoDateTime
from bridge.booking.registry import SOURCES
from webhooks import api_schemas as s
from webhooks import clients_api, prepayments_api

bp = Blueprint("openapi", __name__)
DOCS_URL = "/api/docs"
SPEC_URL = "/api/openapi.json"
# Routes that are not part of the interface: Flask's static files and the page's own assets.
NOT_DESCRIBED = {"static", "swagger_ui.show"}
# Pages for signed-in people rather than an interface for programs (docs/dashboard.md).
PEOPLES_PAGES = ("dashboard.",)
_EXTENSION = "salonbridge.openapi"

TAGS = [
    {"name": "intake", "description": "Events in: booking systems, amoCRM and payment providers call these"},
    {"name": "amocrm", "description": "Connecting a salon's amoCRM account"},
    {"name": "client page", "description": "The page each message links a client to (HTML for a person)"},
    {"name": "reconnect", "description": "Client Reconnect for the salon's own tools (bearer token)"},
    {"name": "prepayments", "description": "The prepayment report for the salon's own tools (bearer token, "
                                           "docs/payments.md)"},
    {"name": "clients", "description": "The client base: reports, segments, the card (bearer token, docs/clients.md)"},
    {"name": "operations", "description": "Health, metrics and this description"},
]


def _json(description: str, schema: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _text(description: str, mimetype: str) -> dict[str, Any]:
    return {"description": description, "content": {mimetype: {"schema": {"type": "string"}}}}


_ERR = s.ErrorSchema
_REFUSED_LINK = {"403": _json("Missing or bad CSRF field"), "404": _json("Unknown or tampered link"),
                 "410": _json("Expired link: ask the salon for a new one")}
_CLIENT_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": s.ClientFormSchema}}}
_RECONNECT_QUERY = [
    {"name": "category", "in": "query", "schema": {"type": "string"},
     "description": "Only this category: its name in any language, or its key"},
    {"name": "branch", "in": "query", "schema": {"type": "string"},
     "description": "Only clients whose latest visit in the category was at this branch id"},
]
_RECONNECT_REFUSED = {
    "400": _json("Unknown category or branch; `known` lists the tenant's", s.UnknownFilterSchema),
    "404": _json("Unknown tenant, or missing or wrong token (no hint which)", _ERR),
    "503": _json("Storage unavailable; retry after the Retry-After header", _ERR),
}

# Flask endpoint → {method: operation}. Path parameters are added from the route itself.
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "hooks.booking_hook": {"post": {
        "operationId": "deliverBookingEvent", "tags": ["intake"],
        "summary": "Deliver one booking event",
        "description": "source `generic` takes the GenericEvent schema; source `yclients` takes YCLIENTS/Altegio "
                       "record webhooks as they send them. A 2xx means the event is durably stored.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": GenericEventSchema}}},
        "responses": {
            "202": _json("Stored (or ignored: a resource we do not use)", s.AcceptedSchema),
            "200": _json("Already stored: a duplicate delivery", s.AcceptedSchema),
            "400": _json("Malformed JSON", _ERR),
            "404": _json("Unknown tenant, source or token", _ERR),
            "413": _json("Body over 1 MB", _ERR),
            "415": _json("Not application/json", _ERR),
            "422": _json("Valid JSON that breaks the schema; `fields` names each problem", _ERR),
            "503": _json("Storage unavailable; retry after the Retry-After header", _ERR),
        }}},
    "amocrm_hooks.amocrm_hook": {"post": {
        "operationId": "deliverAmocrmChange", "tags": ["intake"],
        "summary": "amoCRM account webhook (lead status changes, task updates made by people)",
        "description": "Form-encoded as amoCRM sends it; each change is stored, then reconciled by a job.",
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
        "responses": {"200": _json("Stored"),
                      "400": _json("Not a usable amoCRM form (a key twice, too deep, too many fields…); "
                                   "`reason` says which, nothing stored", _ERR),
                      "404": _json("Unknown tenant or token", _ERR),
                      "413": _json("Body over 1 MB", _ERR),
                      "422": _json("A form amoCRM could send, with a value that cannot be processed; "
                                   "`reason` names it, nothing stored", _ERR),
                      "503": _json("Storage unavailable; amoCRM delivers again later", _ERR)}}},
    "payment_hooks.payment_hook": {"post": {
        "operationId": "deliverPaymentCallback", "tags": ["intake"],
        "summary": "A payment provider's server-to-server callback (LiqPay, WayForPay)",
        "description": "Stored as received, verified by its signature, applied to the prepayment forward-only. "
                       "LiqPay posts a form with `data` and `signature`; WayForPay posts raw JSON, often under a "
                       "form content type. See docs/payments.md.",
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": s.LiqPayCallbackSchema},
            "application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": _json("Stored (also for an unknown order or another merchant, so the provider stops "
                         "retrying). LiqPay: empty; WayForPay: the signed accept.", s.WayForPayAcceptSchema),
            "400": _json("Unreadable body", _ERR),
            "403": _json("The signature does not verify; nothing changed", _ERR),
            "404": _json("Unknown tenant, or a provider the tenant does not use", _ERR),
            "413": _json("Body over 1 MB", _ERR),
            "503": _json("Storage or configuration unavailable; retry after Retry-After", _ERR),
        }}},
    "oauth.callback": {"get": {
        "operationId": "completeAmocrmConsent", "tags": ["amocrm"],
        "summary": "Where amoCRM sends the account admin after granting access (an HTML page in the salon's "
                   "language)",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                       for n in ("code", "state", "referer", "error")],
        "responses": {"200": _text("Connected", "text/html"),
                      "400": _text("Consent refused or code rejected", "text/html"),
                      "403": _text("State missing, tampered, expired or for another tenant", "text/html"),
                      "404": _text("Unknown salon", "text/html"),
                      "502": _text("amoCRM did not answer", "text/html")}}},
    "client_page.page": {"get": {
        "operationId": "showClientPage", "tags": ["client page"],
        "summary": "The client's page: bookings, past visits, review form, opt-out",
        "responses": {"200": _text("HTML page", "text/html"), **_REFUSED_LINK}}},
    "client_page.feedback": {"post": {
        "operationId": "leaveFeedback", "tags": ["client page"],
        "summary": "Leave a review or wish (an amoCRM note)", "requestBody": _CLIENT_FORM,
        "responses": {"303": _json("Stored; back to the page"), "422": _json("Empty or over 2000 characters"),
                      **_REFUSED_LINK}}},
    "client_page.opt_out": {"post": {
        "operationId": "optOut", "tags": ["client page"], "summary": "Stop marketing messages",
        "requestBody": _CLIENT_FORM, "responses": {"303": _json("Done; back to the page"), **_REFUSED_LINK}}},
    "client_page.opt_in": {"post": {
        "operationId": "optIn", "tags": ["client page"], "summary": "Resume messages",
        "requestBody": _CLIENT_FORM, "responses": {"303": _json("Done; back to the page"), **_REFUSED_LINK}}},
    "reconnect_api.overview": {"get": {
        "operationId": "getReconnectOverview", "tags": ["reconnect"],
        "summary": "Reconnect overview: expected, at risk, suppressed per category and branch",
        "description": "The same content as `salonbridge reconnect TENANT --format json` (docs/reconnect.md).",
        "parameters": _RECONNECT_QUERY, "security": [{"tenantToken": []}],
        "responses": {"200": _json("The scan as of now", s.ReconnectOverviewSchema), **_RECONNECT_REFUSED}}},
    "reconnect_api.clients": {"get": {
        "operationId": "listReconnectClients", "tags": ["reconnect"],
        "summary": "The at-risk clients to contact",
        "parameters": _RECONNECT_QUERY, "security": [{"tenantToken": []}],
        "responses": {"200": _json("The scan as of now", s.ReconnectClientsSchema), **_RECONNECT_REFUSED}}},
    "reconnect_api.send_campaign": {"post": {
        "operationId": "sendReconnectCampaign", "tags": ["reconnect"],
        "summary": "Send the first Reconnect message to the at-risk clients of a category (or all); dry_run "
                   "answers who would be contacted",
        "security": [{"tenantToken": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": s.CampaignRequestSchema}}},
        "responses": {"200": _json("Who is (or would be) contacted; with campaign, contacted, messages and "
                                   "skipped once sent", {"type": "object"}),
                      "422": _json("Neither or both of category and all, or an unknown channel", _ERR),
                      **_RECONNECT_REFUSED}}},
    "reconnect_api.results": {"get": {
        "operationId": "getReconnectResults", "tags": ["reconnect"],
        "summary": "Campaign results: contacted, rebooked, rate, revenue in total and per category, channel, "
                   "branch (as `salonbridge report reconnect --format json`)",
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string", "format": "date"}}
                       for n in ("from", "to")],
        "security": [{"tenantToken": []}],
        "responses": {"200": _json("The results of the contacts made in the period (default: the last 3 "
                                   "months)", {"type": "object"}),
                      "400": _json("A bad date or period (to before from, or outside SALONBRIDGE_EARLIEST_DATE .. "
                                   "SALONBRIDGE_YEARS_AHEAD years ahead)", _ERR),
                      "404": _RECONNECT_REFUSED["404"], "503": _RECONNECT_REFUSED["503"]}}},
    **{f"clients_api.{endpoint}": operation for endpoint, operation in clients_api.OPERATIONS.items()},
    **{f"prepayments_api.{endpoint}": op for endpoint, op in prepayments_api.OPERATIONS.items()},
    "health.healthz": {"get": {
        "operationId": "getHealth", "tags": ["operations"], "summary": "Database and Redis reachability",
        "responses": {"200": _json("Both reachable", s.HealthSchema),
                      "503": _json("A dependency is down", s.HealthSchema)}}},
    "metrics.metrics": {"get": {
        "operationId": "getMetrics", "tags": ["operations"], "summary": "Prometheus metrics",
        "responses": {"200": _text("Prometheus text format", "text/plain")}}},
    "openapi.openapi": {"get": {
        "operationId": "getOpenApi", "tags": ["operations"], "summary": "This document (OpenAPI 3.1, JSON)",
        "responses": {"200": _json("The document", {"type": "object"})}}},
    "swagger_ui.show": {"get": {
        "operationId": "showApiDocs", "tags": ["operations"], "summary": "This document as a page (Swagger UI)",
        "responses": {"200": _text("HTML page", "text/html")}}},
}
# Path parameters that take a closed set of values.
_PATH_PARAMETERS = {
    "source": {"type": "string", "enum": list(SOURCES)},
    "provider": {"type": "string", "enum": ["liqpay", "wayforpay"]},
}
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _custom_fields(self, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: ANN001
    """Our own marshmallow fields in JSON Schema terms (apispec knows only the built-in ones)."""
    null = ["null"] if field.allow_none else []
    if isinstance(field, Id):
        return {"type": ["string", "integer", *null], "minLength": 1, "maxLength": field.max_length}
    if isinstance(field, IsoDateTime):
        if field.require_offset:
            return {"type": ["string", *null], "format": "date-time"}
        return {"type": ["string", *null], "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}",
                "description": ret.get("description") or "ISO 8601; with a UTC offset, or without one = the "
                "salon's local time (the tenant's time zone)", "examples": ["2026-12-01T12:00:00+02:00",
                                                                             "2026-12-01T12:00:00"]}
    if isinstance(field, fields.Decimal):  # a JSON number, or a decimal string that avoids float rounding
        bounds = {k: float(ret[k]) for k in ("minimum", "maximum") if k in ret}  # JSON numbers, not Decimals
        return {"type": ["number", "string", *null], "pattern": r"^\d+(\.\d+)?$", **bounds}
    return {}


def is_interface(endpoint: str, rule: str) -> bool:
    """Whether a route belongs in the document (static files, the page's assets and the dashboard don't)."""
    return not (endpoint.startswith(PEOPLES_PAGES) or (endpoint in NOT_DESCRIBED and "<" in rule))


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``: one path per route, schemas from marshmallow."""
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="salonbridge", version="1", openapi_version="3.1.0", plugins=[marshmallow],
        info={"description": "Booking events in, amoCRM work out. The rendered page is at " + DOCS_URL + "/."},
        tags=TAGS,
    )
    marshmallow.converter.add_attribute_function(_custom_fields)
    spec.components.security_scheme("tenantToken", {
        "type": "http", "scheme": "bearer",
        "description": "The value of the environment variable the tenant file names in `api_token_env`."})
    spec.components.schema("GenericEvent", schema=GenericEventSchema)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        described = OPERATIONS.get(rule.endpoint)
        if described is None or (rule.endpoint == "swagger_ui.show" and "<" in rule.rule):
            continue
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": _PATH_PARAMETERS.get(name, {"type": "string"})}
                      for name in _RULE_ARGUMENT.findall(rule.rule)]
        for method, operation in described.items():
            if method.upper() in (rule.methods or ()):
                paths.setdefault(path, {})[method] = {
                    **operation, "parameters": [*parameters, *operation.get("parameters", [])]}
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def document() -> dict[str, Any]:
    """The current app's document, built once per app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _EXTENSION not in app.extensions:
        app.extensions[_EXTENSION] = build(app)
    return app.extensions[_EXTENSION]


@bp.get(SPEC_URL)
def openapi():
    return jsonify(document())


def docs_blueprint() -> Blueprint:
    """Swagger UI from the flask-swagger-ui package; the online validator badge (another host) is off."""
    return get_swaggerui_blueprint(DOCS_URL, SPEC_URL, config={
        "app_name": "salonbridge API", "validatorUrl": None, "displayOperationId": True,
        "oauth2RedirectUrl": DOCS_URL + "/oauth2-redirect.html"})
