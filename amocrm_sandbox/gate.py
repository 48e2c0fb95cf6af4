"""What stands in front of every API call, in the order the real edge applies it: count → 403 block →
429 (forced by a fault, or over the rate) → injected 5xx / latency → Bearer check.
``/_sandbox`` and the board bypass all of it."""

from __future__ import annotations

import re
import time
import uuid

from flask import Response, g, request

from amocrm_sandbox.problems import account_blocked, server_error, too_many_requests
from amocrm_sandbox.ratelimit import Verdict
from amocrm_sandbox.runtime import rt

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/oauth2/")) or path == "/oauth"


def endpoint_name() -> str:
    """``GET /api/v4/leads/{lead_id}``: the route, not the concrete URL, so stats group sensibly."""
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return f"{request.method} " + _CONVERTER.sub(r"{\1}", rule)


def before_api_request() -> Response | None:
    if not is_api(request.path):
        return None
    runtime = rt()
    runtime.stats.record_request(endpoint_name())
    account = runtime.options.subdomain
    if runtime.limiter.is_blocked(account):
        return account_blocked()
    if runtime.faults.take_429():  # a forced 429 stands in for the limiter: it takes no slot in the window
        runtime.limiter.note_429(account)
        return too_many_requests(runtime.options.retry_after, runtime.options.rate_limit_html)
    verdict = runtime.limiter.check(account)
    if verdict is Verdict.BLOCKED:
        return account_blocked()
    if verdict is Verdict.LIMITED:
        return too_many_requests(runtime.options.retry_after, runtime.options.rate_limit_html)
    status = runtime.faults.error_status()
    if status is not None:
        return server_error(status)
    delay = runtime.faults.delay_seconds()
    if delay:
        time.sleep(delay)
    if not request.path.startswith("/oauth"):  # the OAuth endpoints take client credentials instead
        g.principal = runtime.tokens.authenticate(request.headers.get("Authorization"))
    return None


def after_api_request(response: Response) -> Response:
    if not is_api(request.path):
        return response
    runtime = rt()
    runtime.stats.record_status(response.status_code)
    response.headers["X-Request-Id"] = uuid.uuid4().hex
    hang = runtime.faults.take_hang(request.method, request.path)
    if hang and response.status_code < 400:
        time.sleep(hang)  # the write is already saved; the client times out waiting for this answer
    return response
