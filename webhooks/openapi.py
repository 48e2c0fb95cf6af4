"""``/api/openapi.json``: the HTTP interface described as OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from bridge.booking.generic import GENERIC_EVENT_JSON_SCHEMA
from bridge.booking.registry import SOURCES
from webhooks import payment_hooks

bp = Blueprint("openapi", __name__)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
}


def _response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"description": description}
    if schema:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def document() -> dict[str, Any]:
    accepted = {
        "type": "object",
        "properties": {
            "status": {"enum": ["accepted", "duplicate", "ignored"]},
            "event_id": {"type": "integer"},
            "queued": {"type": "boolean"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "salonbridge", "version": "1", "description": "Booking events in, amoCRM work out."},
        "paths": {
            "/hooks/{tenant}/{source}/{token}": {
                "post": {
                    "summary": "Deliver one booking event",
                    "description": (
                        "source `generic` takes the GenericEvent schema; source `yclients` takes YCLIENTS/Altegio "
                        "record webhooks as they send them. 2xx means the event is durably stored."
                    ),
                    "parameters": [
                        {"name": n, "in": "path", "required": True,
                         "schema": {"type": "string", "enum": list(SOURCES)} if n == "source" else {"type": "string"}}
                        for n in ("tenant", "source", "token")
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GenericEvent"}}},
                    },
                    "responses": {
                        "202": _response("Stored (or ignored: a resource we do not use)", accepted),
                        "200": _response("Already stored: a duplicate delivery", accepted),
                        "400": _response("Malformed JSON", _ERROR),
                        "404": _response("Unknown tenant, source or token", _ERROR),
                        "413": _response("Body over 1 MB", _ERROR),
                        "415": _response("Not application/json", _ERROR),
                        "422": _response("Valid JSON that breaks the schema; `fields` names each problem", _ERROR),
                        "503": _response("Storage unavailable; retry after the Retry-After header", _ERROR),
                    },
                }
            },
            "/hooks/{tenant}/amocrm/{token}": {
                "post": {
                    "summary": "amoCRM account webhook (lead status changes, task updates made by people)",
                    "description": "Form-encoded as amoCRM sends it; each change is stored, then reconciled by a job.",
                    "parameters": [
                        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                        for n in ("tenant", "token")
                    ],
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": _response("Stored"),
                        "404": _response("Unknown tenant or token", _ERROR),
                        "503": _response("Storage unavailable; amoCRM delivers again later", _ERROR),
                    },
                }
            },
            "/oauth/{tenant}/callback": {
                "get": {
                    "summary": "Where amoCRM sends the account admin after granting access (HTML page)",
                    "parameters": [
                        {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}},
                        *(
                            {"name": n, "in": "query", "schema": {"type": "string"}}
                            for n in ("code", "state", "referer")
                        ),
                    ],
                    "responses": {"200": _response("Connected"), "400": _response("Consent refused or code rejected"),
                                  "403": _response("State missing, tampered, expired or for another tenant")},
                }
            },
            "/healthz": {"get": {"summary": "Database and Redis reachability", "responses": {
                "200": _response("Both reachable"), "503": _response("A dependency is down")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": _response("Text format")}}},
            **_client_page_paths(),
            **payment_hooks.openapi_paths(),
            **_reconnect_paths(),
        },
        "components": {
            "schemas": {"GenericEvent": GENERIC_EVENT_JSON_SCHEMA, **_RECONNECT_SCHEMAS},
            "securitySchemes": {"tenantToken": {
                "type": "http", "scheme": "bearer",
                "description": "The value of the environment variable the tenant file names in `api_token_env`."}},
        },
    }


def _client_page_paths() -> dict[str, Any]:
    """The client's own page (HTML for a person; the token is the signed link from a message)."""
    token = [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}]
    refused = {"403": _response("Missing or bad CSRF field"), "404": _response("Unknown or tampered link"),
               "410": _response("Expired link: ask the salon for a new one")}
    form = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["csrf"],
        "properties": {"csrf": {"type": "string"}, "text": {"type": "string", "maxLength": 2000}}}}}}
    post = {"parameters": token, "requestBody": form}
    return {
        "/c/{token}": {"get": {"summary": "The client's page: bookings, past visits, review form, opt-out",
                               "parameters": token,
                               "responses": {"200": _response("HTML page"), **refused}}},
        "/c/{token}/feedback": {"post": {**post, "summary": "Leave a review or wish (an amoCRM note)", "responses": {
            "303": _response("Stored; back to the page"), "422": _response("Empty or over 2000 characters"),
            **refused}}},
        "/c/{token}/opt-out": {"post": {**post, "summary": "Stop marketing messages", "responses": {
            "303": _response("Done; back to the page"), **refused}}},
        "/c/{token}/opt-in": {"post": {**post, "summary": "Resume messages", "responses": {
            "303": _response("Done; back to the page"), **refused}}},
    }


_COUNTS = {name: {"type": "integer", "minimum": 0} for name in (
    "tracked", "learned", "due_this_week", "due_this_month", "at_risk", "suppressed")}
_DATE = {"type": "string", "format": "date"}
_FILTERS = {"type": "object", "properties": {"category": {"type": ["string", "null"]},
                                             "branch": {"type": ["string", "null"]}}}
_RECONNECT_SCHEMAS: dict[str, Any] = {
    "ReconnectOverview": {
        "type": "object",
        "description": (
            "Clients per category, per branch (of the client's latest visit in the category) and in total. "
            "tracked: has an expected date; learned: from their own last three visits (else the category's "
            "periodicity); due_this_week / due_this_month: expected by the week's Sunday / the month's last day, "
            "not booked, not yet at risk; at_risk: more than tolerance_days past the expected date with no "
            "upcoming booking; suppressed: as late, but booked (any category, any branch)."),
        "properties": {
            "tenant": {"type": "string"}, "today": _DATE, "week_end": _DATE, "month_end": _DATE,
            "tolerance_days": {"type": "integer"}, "filters": _FILTERS,
            "total": {"type": "object", "properties": _COUNTS},
            "categories": {"type": "array", "items": {"type": "object", "properties": {
                "category": {"type": "string"}, "label": {"type": "string"}, **_COUNTS}}},
            "branches": {"type": "array", "items": {"type": "object", "properties": {
                "branch": {"type": ["string", "null"]}, "name": {"type": ["string", "null"]}, **_COUNTS}}},
        },
    },
    "ReconnectClients": {
        "type": "object",
        "properties": {
            "tenant": {"type": "string"}, "today": _DATE, "filters": _FILTERS,
            "clients": {"type": "array", "description": "At-risk clients, most overdue first within a category",
                        "items": {"type": "object", "properties": {
                            "client_id": {"type": "integer"}, "name": {"type": ["string", "null"]},
                            "phone": {"type": ["string", "null"], "description": "E.164, complete"},
                            "email": {"type": ["string", "null"]}, "category": {"type": "string"},
                            "category_label": {"type": "string"}, "branch": {"type": ["string", "null"]},
                            "branch_name": {"type": ["string", "null"]}, "last_visit": _DATE,
                            "interval_days": {"type": "integer"},
                            "interval_source": {"enum": ["learned", "periodicity"]},
                            "expected": _DATE, "days_late": {"type": "integer"}}}},
        },
    },
}


def _reconnect_paths() -> dict[str, Any]:
    """Client Reconnect (docs/reconnect.md): the same content as `salonbridge reconnect TENANT --format json`."""
    params = [
        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "category", "in": "query", "schema": {"type": "string"},
         "description": "Only this category: its name in any language, or its key"},
        {"name": "branch", "in": "query", "schema": {"type": "string"},
         "description": "Only clients whose latest visit in the category was at this branch id"},
    ]
    refused = {
        "400": _response("Unknown category or branch; `known` lists the tenant's", {
            **_ERROR, "properties": {**_ERROR["properties"], "known": {"type": "array", "items": {"type": "string"}}}}),
        "404": _response("Unknown tenant, or missing or wrong token (no hint which)", _ERROR),
        "503": _response("Storage unavailable; retry after the Retry-After header", _ERROR),
    }

    def get(summary: str, schema: str) -> dict[str, Any]:
        ok = _response("The scan as of now", {"$ref": f"#/components/schemas/{schema}"})
        return {"get": {"summary": summary, "parameters": params, "security": [{"tenantToken": []}],
                        "responses": {"200": ok, **refused}}}

    return {
        "/api/tenants/{slug}/reconnect": get("Reconnect overview: expected, at risk, suppressed per category and "
                                             "branch", "ReconnectOverview"),
        "/api/tenants/{slug}/reconnect/clients": get("The at-risk clients to contact", "ReconnectClients"),
        "/api/tenants/{slug}/reconnect/campaigns": {"post": {
            "summary": "Send the first Reconnect message to the at-risk clients of a category (or all); dry_run "
                       "answers who would be contacted",
            "parameters": params[:1], "security": [{"tenantToken": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "category": {"type": "string"}, "all": {"type": "boolean"},
                    "channel": {"enum": ["sms", "email", "both"]}, "dry_run": {"type": "boolean"}}}}}},
            "responses": {"200": _response("Who is (or would be) contacted; with campaign, contacted, messages and "
                                           "skipped once sent", {"type": "object"}),
                          "422": _response("Neither or both of category and all, or an unknown channel", _ERROR),
                          **refused}}},
        "/api/tenants/{slug}/reconnect/results": {"get": {
            "summary": "Campaign results: contacted, rebooked, rate, revenue in total and per category, channel, "
                       "branch (as `salonbridge report reconnect --format json`)",
            "parameters": [params[0], *({"name": n, "in": "query", "schema": _DATE} for n in ("from", "to"))],
            "security": [{"tenantToken": []}],
            "responses": {"200": _response("The results of the contacts made in the period (default: the last 3 "
                                           "months)", {"type": "object"}),
                          "400": _response("A bad date or period", _ERROR),
                          "404": refused["404"], "503": refused["503"]}}},
    }


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(document())
