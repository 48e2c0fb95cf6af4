"""Exceptions of the amoCRM adapter, one flat module so callers can tell the cases apart.

The job layer reacts differently to each: retry later (RateLimited, transient AmoHttpError), pause the
tenant (AccountBlocked), ask a human to re-authorize (ReauthRequired), reconcile before resending
(AmbiguousWrite), or give up on bad data (AmoValidationError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class AmoError(Exception):
    """Base of everything this package raises.

    ``done``: when a batch write fails part-way, the results of the chunks amoCRM had already
    applied (in input order), so the caller does not create them again.
    """

    done: Sequence[Any] = ()


class AmoHttpError(AmoError):
    """amoCRM answered with an error status we do not handle specially."""

    def __init__(self, status: int, method: str, path: str, detail: str = "", request_id: str | None = None):
        self.status, self.method, self.path = status, method, path
        self.detail, self.request_id = detail, request_id
        rid = f" [X-Request-Id {request_id}]" if request_id else ""
        super().__init__(f"amoCRM {method} {path} → HTTP {status}{rid}: {detail or 'no detail'}")


@dataclass(frozen=True)
class FieldError:
    """One rejected field of one batch item (``request_id`` as amoCRM echoes it)."""

    request_id: str
    path: str
    code: str
    detail: str


class AmoValidationError(AmoHttpError):
    """HTTP 400 with ``validation-errors``: the payload is wrong and resending it will not help."""

    def __init__(self, method: str, path: str, errors: list[FieldError], request_id: str | None = None):
        self.errors = errors
        listed = "; ".join(f"item {e.request_id}: {e.path} {e.code} ({e.detail})" for e in errors)
        super().__init__(400, method, path, f"validation failed: {listed}", request_id)

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.errors]


class RateLimited(AmoError):
    """amoCRM (or our own limiter) wants us to wait longer than is sensible to sleep in a job."""

    def __init__(self, retry_in: float, what: str = "amoCRM answered 429"):
        self.retry_in = retry_in
        super().__init__(f"{what}; retry in {retry_in:.1f} s")


class OutOfTime(AmoError):
    """The caller's time for this run is up: nothing more is sent; what is left waits for the next run."""


class AccountBlocked(AmoError):
    """HTTP 403 that is an account/IP block (not a rights problem): stop calling until ``until``.

    amoCRM lifts such blocks only through its support; ``until`` is when a human should look again,
    or what the server's Retry-After said.
    """

    def __init__(self, until: datetime, detail: str = ""):
        self.until = until
        super().__init__(f"amoCRM blocked the account/IP; paused until {until.isoformat()}: {detail[:200]}")


class AmbiguousWrite(AmoError):
    """A non-idempotent write may or may not have been applied (timeout/5xx after sending).

    Never resend it blindly: look the entity up by its idempotency marker first
    (``AmoCrmClient.create_once`` does that).
    """

    def __init__(self, method: str, path: str, cause: str):
        self.method, self.path, self.cause = method, path, cause
        super().__init__(f"amoCRM {method} {path}: outcome unknown ({cause}); look up before resending")


class SalesbotNotStarted(AmoError):
    """amoCRM answered a Salesbot launch request with ``success: false``: at least one bot of the request
    did not start (its entity is missing), and the answer does not say which."""


class ReauthRequired(AmoError):
    """The tenant's authorization is gone (refresh refused, token revoked); a human must reconnect."""

    def __init__(self, tenant: str, reason: str):
        self.tenant, self.reason = tenant, reason
        super().__init__(
            f"amoCRM authorization of tenant {tenant!r} is no longer valid ({reason}); "
            f"reconnect the integration (OAuth consent again, or a new long-lived token)"
        )


class TokenEndpointError(AmoError):
    """The OAuth token endpoint gave no usable answer (network error, 5xx); safe to try again later."""


class InvalidGrant(AmoError):
    """The token endpoint definitely refused the code or refresh token (HTTP 400/401)."""

    def __init__(self, status: int, hint: str):
        self.status, self.hint = status, hint
        super().__init__(f"token endpoint refused the grant (HTTP {status}): {hint}")


class MarkerFieldMissing(AmoError):
    """The account has no idempotency-marker custom field yet (``ensure_marker_field`` creates it)."""


class StaleTokenVersion(AmoError):
    """Another worker rotated the tokens first; our write was fenced off by the version check."""
