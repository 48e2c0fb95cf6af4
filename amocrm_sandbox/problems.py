"""Error bodies in the shapes amoCRM sends (spec §2.6, §3, §12.1), so clients meet the real thing."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from amocrm_sandbox.jsonio import PROBLEM, json_response

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}

NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_TEMPLATE = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
    "<center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_429 = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """Raised anywhere in a handler; the app turns it into an ``application/problem+json`` answer."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, lead: dict | None = None):
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.title = title or TITLES.get(status, "Error")
        self.lead = lead or {}  # keys that precede title/type/status/detail, as in §12.1

    def response(self) -> Response:
        return problem(self.status, self.detail, title=self.title, lead=self.lead)


class ValidationFailed(ApiError):
    """HTTP 400 with one ``validation-errors`` element per failing batch item (§12.1)."""

    def __init__(self, items: list[dict[str, Any]]):
        super().__init__(400, "Request validation failed", lead={"validation-errors": items})
        self.items = items


def problem(status: int, detail: str, *, title: str | None = None, lead: dict | None = None,
            **extra: Any) -> Response:
    """The common problem+json body: ``title``, ``type`` (httpstatus.es), ``status``, ``detail``."""
    body: dict[str, Any] = dict(lead or {})
    body.update(title=title or TITLES.get(status, "Error"), type=f"https://httpstatus.es/{status}",
                status=status, detail=detail)
    body.update(extra)
    return json_response(body, status, PROBLEM)


def unauthorized() -> ApiError:
    """The one 401 body amoCRM uses for a missing, bad, expired or revoked token (§2.6)."""
    return ApiError(401, "Invalid user name or password")


def server_error(status: int) -> Response:
    """A 5xx as the API gateway words it (§12.1 row 500)."""
    body = {"title": "ErrInternalServer", "status": status,
            "detail": "Our team are probably already working on the elimination of the problem",
            "trace_id": uuid.uuid4().hex}
    return json_response(body, status, PROBLEM)


def too_many_requests(retry_after: int, html: bool, *, header: bool = False) -> Response:
    """429 in either documented form: Kommo's JSON with ``retry_after`` or the gateway's HTML (§3);
    ``header`` adds a ``Retry-After`` header too (amoCRM is not seen sending one; a burst fault may)."""
    if html:
        answer = Response(NGINX_429, status=429, mimetype="text/html")
    else:
        answer = problem(429, "You have sent too many requests in a given amount of time. Please try again later.",
                         retry_after=retry_after)
    if header:
        answer.headers["Retry-After"] = str(retry_after)
    return answer


def account_blocked() -> Response:
    """The block after repeated 429s: nginx HTML, not JSON (§3, [OBS #434])."""
    return Response(NGINX_403, status=403, mimetype="text/html")
