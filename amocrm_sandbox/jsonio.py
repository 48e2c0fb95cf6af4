"""JSON in and out of the emulator: amoCRM's content types, key order kept, Cyrillic unescaped."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
PLAIN = "application/json"


def json_response(body: Any, status: int = 200, mimetype: str = HAL) -> Response:
    """Serialize without sorting keys so bodies read like the documented examples."""
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=mimetype)


def no_content() -> Response:
    """amoCRM answers an empty list with 204 and no body at all (spec §1, fact 3)."""
    response = Response(status=204)
    response.headers.remove("Content-Type")
    return response


class BodyError(ValueError):
    """The request body is empty or not JSON; callers turn it into the API's own 400."""


def read_json() -> Any:
    """The parsed body, or BodyError; parsed by hand so Flask's HTML 400 never leaks out."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BodyError("Request data can not be empty")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BodyError(f"Request body is not valid JSON: {exc}") from exc
