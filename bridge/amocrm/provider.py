"""Access tokens for the client, with refresh-token rotation that is safe across many workers.

amoCRM rotates refresh tokens: a spent one is refused ("Token has been revoked") and only a human can
re-authorize. So refreshes of one tenant are serialized by a Redis lock, double-checked after the lock
is taken (another worker may have refreshed meanwhile), and the new pair is written — fenced by
``version`` — before the new access token is used or the lock released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import LockError
from sqlalchemy.exc import SQLAlchemyError

from bridge.amocrm.errors import InvalidGrant, ReauthRequired, StaleTokenVersion, TokenEndpointError
from bridge.amocrm.oauth import TOKEN_TIMEOUT, TokenResponse
from bridge.amocrm.tokens import NEEDS_REAUTH, TokenSet, TokenStore, fingerprint

log = logging.getLogger(__name__)

Refresher = Callable[[str], TokenResponse]
LockFactory = Callable[[str], AbstractContextManager[object]]
REFRESH_MARGIN = timedelta(minutes=5)
# Two token calls (first try + the one retry after a lost answer) must fit inside the lock's lifetime.
LOCK_TIMEOUT_S = 2 * sum(TOKEN_TIMEOUT) + 20


def redis_lock_factory(
    redis: Redis, *, timeout: float = LOCK_TIMEOUT_S, blocking_timeout: float = LOCK_TIMEOUT_S + 10
) -> LockFactory:
    """Per-tenant refresh locks (``redis.lock.Lock``: SET NX PX, token-checked release)."""

    @contextmanager
    def lock(tenant: str) -> Iterator[None]:
        held = redis.lock(f"amocrm:oauth-refresh:{tenant}", timeout=timeout, blocking_timeout=blocking_timeout)
        if not held.acquire():
            raise TokenEndpointError(f"could not take the token refresh lock of {tenant!r} in {blocking_timeout} s")
        try:
            yield
        finally:
            try:
                held.release()
            except LockError:  # expired while we worked; the version fence kept the row consistent
                log.warning("token refresh lock of %s expired before release", tenant)

    return lock


class TokenProvider:
    """Hands the client a valid access token for one tenant; keep one per tenant per process."""

    def __init__(
        self,
        tenant_slug: str,
        token_store: TokenStore,
        refresher: Refresher,
        lock_factory: LockFactory,
        *,
        refresh_margin: timedelta = REFRESH_MARGIN,
    ):
        self.tenant = tenant_slug
        self._store = token_store
        self._refresher = refresher
        self._lock = lock_factory
        self._margin = refresh_margin
        self._current: TokenSet | None = None

    def access_token(self) -> str:
        """The current token, refreshed first when it expires within the margin (5 min)."""
        current = self._current if self._current and not self._due(self._current) else self._load()
        if self._due(current):
            current = self._refresh(current, force=False)
        self._current = current
        return current.access_token

    def refresh_after_401(self, rejected: str | None = None) -> str:
        """A fresh token after amoCRM refused ``rejected`` (default: the last one handed out);
        refreshes only if no other worker has replaced that token already."""
        rejected = rejected or (self._current.access_token if self._current else None)
        current = self._load()
        if rejected is None or current.access_token == rejected:
            if current.long_lived:
                reason = "the long-lived token was refused (expired or revoked)"
                self.mark_needs_reauth(reason)
                raise ReauthRequired(self.tenant, reason)
            current = self._refresh(current, force=True)
        self._current = current
        return current.access_token

    def mark_needs_reauth(self, reason: str) -> None:
        log.error("amoCRM tokens of %s need re-authorization: %s", self.tenant, reason)
        self._current = None
        self._store.mark_needs_reauth(self.tenant)

    def _due(self, tokens: TokenSet) -> bool:
        if tokens.long_lived or tokens.expires_at is None:
            return False
        return tokens.expires_at - datetime.now(UTC) < self._margin

    def _load(self) -> TokenSet:
        tokens = self._store.load(self.tenant)
        if tokens is None:
            raise ReauthRequired(self.tenant, "no amoCRM tokens are stored; authorize the integration first")
        if tokens.state == NEEDS_REAUTH:
            raise ReauthRequired(self.tenant, "the connection was marked needs_reauth")
        return tokens

    def _refresh(self, seen: TokenSet, *, force: bool) -> TokenSet:
        with self._lock(self.tenant):
            current = self._load()
            if current.version != seen.version or not (force or self._due(current)):
                return current  # another worker refreshed while we waited for the lock
            response = self._call_endpoint(current)
            return self._persist(current, response)

    def _call_endpoint(self, current: TokenSet) -> TokenResponse:
        assert current.refresh_token is not None  # long-lived tokens never get here
        try:
            try:
                return self._refresher(current.refresh_token)
            except TokenEndpointError as exc:
                # No answer: amoCRM keeps the old refresh token valid until the new one is used,
                # so one more try with it is safe (spec §2.4); a second failure waits for the next job.
                log.warning("amoCRM token refresh of %s got no answer (%s); trying once more", self.tenant, exc)
                return self._refresher(current.refresh_token)
        except InvalidGrant as exc:
            self.mark_needs_reauth(f"refresh refused: {exc.hint}")
            raise ReauthRequired(self.tenant, f"amoCRM refused the refresh token ({exc.hint})") from exc

    def _persist(self, current: TokenSet, response: TokenResponse) -> TokenSet:
        for attempt in (1, 2):
            try:
                fresh = self._store.rotate(self.tenant, current.version, response)
            except StaleTokenVersion:
                log.error("tokens of %s were rotated by another worker while our lock had expired", self.tenant)
                return self._load()
            except SQLAlchemyError:
                log.exception("storing refreshed tokens of %s failed (attempt %d)", self.tenant, attempt)
                continue
            log.info(
                "amoCRM tokens of %s rotated to v%d (access %s, refresh %s)",
                self.tenant,
                fresh.version,
                fingerprint(fresh.access_token),
                fingerprint(fresh.refresh_token),
            )
            return fresh
        # The new pair exists only in memory and the old refresh token is spent: do not use either.
        try:
            self.mark_needs_reauth("refreshed tokens could not be stored")
        except SQLAlchemyError:
            log.exception("could not mark %s needs_reauth either", self.tenant)
        raise ReauthRequired(self.tenant, "refreshed tokens could not be stored")


class StaticTokenProvider:
    """A fixed token (sandbox, tests, a long-lived token taken straight from the environment)."""

    def __init__(self, token: str, tenant: str = "static"):
        self.tenant = tenant
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_401(self, rejected: str | None = None) -> str:
        raise ReauthRequired(self.tenant, "the fixed token was refused")

    def mark_needs_reauth(self, reason: str) -> None:
        log.error("amoCRM token of %s refused: %s", self.tenant, reason)
