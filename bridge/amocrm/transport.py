"""HTTP plumbing shared by the API client and the OAuth calls: sessions, waits, query strings, errors.

Kept apart from ``client.py`` so the request seam there reads as policy, not parsing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from bridge.amocrm.errors import AmoHttpError, AmoValidationError, FieldError

USER_AGENT = "salonbridge/0.1 (+amoCRM API v4 client)"
RETRY_AFTER_CAP_S = 3600.0  # a server asking for more than an hour is treated as asking for an hour

_session: requests.Session | None = None
_session_pid: int | None = None


def default_session() -> requests.Session:
    """The process's shared Session (connection pool); a forked child gets its own, never the parent's
    sockets — RQ runs each job in a forked work-horse."""
    global _session, _session_pid
    if _session is None or _session_pid != os.getpid():
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        _session, _session_pid = session, os.getpid()
    return _session


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably did not reach the server (so even a POST may be resent)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0].reason if isinstance(exc.args[0], MaxRetryError) else exc.args[0]
        # NewConnectionError (refused) and NameResolutionError derive from ConnectTimeoutError.
        return isinstance(reason, ConnectTimeoutError)
    return False


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries of many workers spread."""
    ceiling = min(cap_s, base_s * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def with_jitter(delay_s: float) -> float:
    """A server-given wait plus up to 10 %: never earlier than asked, and not all workers at once."""
    return delay_s * (1 + random.uniform(0, 0.1))


def retry_after(response: requests.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP-date) or amoCRM's JSON ``retry_after``."""
    header = response.headers.get("Retry-After")
    seconds = _parse_retry_after(header, now or datetime.now(UTC)) if header else None
    if seconds is None:
        body = problem(response)
        raw = body.get("retry_after") if body else None
        seconds = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    return None if seconds is None else min(max(0.0, seconds), RETRY_AFTER_CAP_S)


def _parse_retry_after(value: str, now: datetime) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


def php_params(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested params → amoCRM's PHP bracket query (``filter[statuses][0][pipeline_id]=1``), bools as 1/0."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        out.extend(_flatten(f"{prefix}[{key}]" if prefix else str(key), value))
    return out


def _flatten(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return php_params(value, name)
    if isinstance(value, list | tuple | set | frozenset):
        return [pair for i, item in enumerate(value) for pair in _flatten(f"{name}[{i}]", item)]
    if isinstance(value, bool):
        return [(name, "1" if value else "0")]
    return [(name, str(value))]


def problem(response: requests.Response) -> dict[str, Any] | None:
    """The JSON error body (``application/problem+json``) or None for HTML/empty bodies."""
    if not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def json_body(response: requests.Response) -> Any:
    """Parsed success body; None for 204 and for the empty/HTML bodies of 202 answers."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def error_for(response: requests.Response, method: str, path: str) -> AmoHttpError:
    """The exception for a 4xx we do not retry; validation errors name each rejected field."""
    body = problem(response) or {}
    request_id = response.headers.get("X-Request-Id")
    if response.status_code == 400 and isinstance(body.get("validation-errors"), list):
        return AmoValidationError(method, path, _field_errors(body["validation-errors"]), request_id)
    detail = str(body.get("detail") or body.get("title") or response.text[:200] or response.reason)
    return AmoHttpError(response.status_code, method, path, detail, request_id)


def _field_errors(items: list[Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        rid = str(item.get("request_id", "?"))
        for err in item.get("errors") or []:
            if isinstance(err, dict):
                path, code, detail = (str(err.get(k, "")) for k in ("path", "code", "detail"))
                errors.append(FieldError(rid, path, code, detail))
    return errors


def is_block(response: requests.Response) -> bool:
    """A 403 that blocks the account/IP (HTML from the gateway, or a JSON detail saying so),
    as opposed to a 403 for missing rights (problem+json about access)."""
    body = problem(response)
    if body is None:
        return True
    detail = f"{body.get('title', '')} {body.get('detail', '')}".lower()
    return any(word in detail for word in ("block", "заблок", "ip address"))
