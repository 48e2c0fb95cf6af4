"""``/api/openapi.json``: the HTTP interface described as OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from bridge.booking.generic import GENERIC_EVENT_JSON_SCHEMA

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
                        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
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
            "/healthz": {"get": {"summary": "Database and Redis reachability", "responses": {
                "200": _response("Both reachable"), "503": _response("A dependency is down")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": _response("Text format")}}},
        },
        "components": {"schemas": {"GenericEvent": GENERIC_EVENT_JSON_SCHEMA}},
    }


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(document())
