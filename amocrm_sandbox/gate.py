"""What stands in front of every API call, in the order the real edge applies it: journal and count →
403 block → 429 (a forced burst, or over the rate) → a scripted step → injected 5xx / latency → Bearer
check (with the token faults). ``/_sandbox`` and the board bypass all of it.

After the handler: the journal gets the status, and the answer is held when a step, a late-answer draw
or a store-then-timeout says so (the write is already saved by then)."""

from __future__ import annotations

import json
import re
import time
import uuid

from flask import Response, g, request

from amocrm_sandbox.faults import Step
from amocrm_sandbox.problems import (
    NGINX_TEMPLATE,
    account_blocked,
    problem,
    server_error,
    too_many_requests,
    unauthorized,
)
from amocrm_sandbox.ratelimit import Verdict
from amocrm_sandbox.runtime import Runtime, rt

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/oauth2/")) or path == "/oauth"


def endpoint_name() -> str:
    """``GET /api/v4/leads/{lead_id}``: the route, not the concrete URL, so stats group sensibly."""
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return f"{request.method} " + _CONVERTER.sub(r"{\1}", rule)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer "):].strip() if header.startswith("Bearer ") else None


def _body() -> object:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return request.form.to_dict() if request.form else raw.decode("utf-8", "replace")


def _journal(runtime: Runtime) -> None:
    g.call = runtime.journal.record(request.method, request.path, list(request.args.items(multi=True)), _body(),
                                    _bearer(), runtime.stats.clock())
    g.hold = 0.0


def _tag(name: str) -> None:
    g.call.tags.append(name)
    rt().stats.note(name)


def before_api_request() -> Response | None:
    if not is_api(request.path):
        return None
    runtime = rt()
    _journal(runtime)
    runtime.stats.record_request(endpoint_name())
    account = runtime.options.subdomain
    if runtime.limiter.is_blocked(account):
        return account_blocked()
    if runtime.faults.take_429():  # a forced 429 stands in for the limiter: it takes no slot in the window
        _tag("burst_429")
        runtime.limiter.note_429(account)
        after = runtime.faults.current.burst_retry_after
        return too_many_requests(runtime.options.retry_after if after is None else after,
                                 runtime.options.rate_limit_html, header=after is not None)
    verdict = runtime.limiter.check(account)
    if verdict is Verdict.BLOCKED:
        return account_blocked()
    if verdict is Verdict.LIMITED:
        return too_many_requests(runtime.options.retry_after, runtime.options.rate_limit_html)
    step = runtime.faults.take_step(request.method, request.path)
    if step is not None:
        _tag("step")
        answer = _scripted(runtime, step)
        if answer is not None:
            return answer
    status = runtime.faults.error_status()
    if status is not None:
        _tag("error")
        return server_error(status)
    delay = runtime.faults.delay_seconds()
    if delay:
        time.sleep(delay)
    late = runtime.faults.late_seconds()
    if late:
        _tag("late_answer")
        g.hold = max(g.hold, late)
    if not request.path.startswith("/oauth"):  # the OAuth endpoints take client credentials instead
        _authenticate(runtime)
    return None


def _scripted(runtime: Runtime, step: Step) -> Response | None:
    if step.delay_seconds:
        time.sleep(step.delay_seconds)
    g.hold = max(g.hold, step.hang_seconds)
    if step.status is None:
        return None
    if step.status == 429:
        runtime.limiter.note_429(runtime.options.subdomain)
    headers = {"Retry-After": step.retry_after} if step.retry_after else {}
    if step.html:
        return Response(NGINX_TEMPLATE.format(status=step.status), step.status, headers, mimetype="text/html")
    if step.body is not None:
        return Response(json.dumps(step.body, ensure_ascii=False), step.status, headers,
                        mimetype="application/problem+json")
    answer = server_error(step.status) if step.status >= 500 else problem(step.status, "Injected by a scripted step")
    answer.headers.update(headers)
    return answer


def _authenticate(runtime: Runtime) -> None:
    token = _bearer()
    if runtime.faults.current.reject_tokens:
        raise unauthorized()
    if token and runtime.faults.current.expire_token_after is not None and runtime.tokens.is_oauth_access(token) \
            and runtime.faults.take_token_expiry():
        _tag("token_expired")
        runtime.tokens.expire(token)
    g.principal = runtime.tokens.authenticate(request.headers.get("Authorization"))


def after_api_request(response: Response) -> Response:
    if not is_api(request.path):
        return response
    runtime = rt()
    runtime.stats.record_status(response.status_code)
    response.headers["X-Request-Id"] = uuid.uuid4().hex
    call = g.get("call")
    if call is not None:
        call.status = response.status_code
    hold = g.get("hold", 0.0)
    hang = runtime.faults.take_hang(request.method, request.path)
    if hang and response.status_code < 400:
        hold = max(hold, hang)
    if response.status_code < 400:
        runtime.echo_request_changes()
    if hold:
        time.sleep(hold)  # the write is already saved; the client times out waiting for this answer
    return response
