"""Composition for one tenant's amoCRM account: the client, the OAuth state, the connection status.

``client_for(tenant, services)`` is the one way the rest of the product gets a tenant's client, so every
caller shares the same budget (one Redis limiter per account host), the same refresh lock and the same
encrypted token row. Tokens come from, in this order:

1. a long-lived token in the environment variable the tenant file names (``long_lived_token_env``);
2. the tokens stored by ``salonbridge amocrm connect`` (OAuth pair, or a long-lived token), encrypted
   with ``SALONBRIDGE_TOKEN_KEY`` (a Fernet key or any long secret), else a key derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bridge import telemetry
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.client import AmoCrmClient
from bridge.amocrm.errors import AccountBlocked, AmoError, ReauthRequired
from bridge.amocrm.oauth import OAuthRefresher, TokenResponse, authorization_url, exchange_code
from bridge.amocrm.provider import StaticTokenProvider, TokenProvider, redis_lock_factory
from bridge.amocrm.ratelimit import RedisRateLimiter
from bridge.amocrm.tokens import NEEDS_REAUTH, TokenSet, TokenStore, fingerprint, jwt_expiry
from bridge.services import Services
from config.settings import Settings
from config.tenants import Tenant

log = logging.getLogger(__name__)

STATE_TTL_S = 30 * 60  # the consent screen's code lives 20 min; the link gets a little longer
_STATE_CONTEXT = b"salonbridge/amocrm-oauth-state/v1|"


class ConnectError(AmoError):
    """The tenant's amoCRM connection is misconfigured (missing env var, wrong host); a human must fix it."""


class NotConnected(ReauthRequired):
    """No tokens at all for the tenant. A ``ReauthRequired`` so the job layer treats it the same way."""

    def __init__(self, tenant: str):
        self.tenant, self.reason = tenant, "no amoCRM tokens are stored"
        AmoError.__init__(
            self, f"tenant {tenant!r} is not connected to amoCRM: run `salonbridge amocrm connect {tenant}`"
        )


# --- where things live ---------------------------------------------------------------------------


def redirect_uri(tenant_slug: str, settings: Settings) -> str:
    """``{public_url}/oauth/<tenant>/callback``; must equal the Redirect URI of the amoCRM integration."""
    return f"{settings.public_url.rstrip('/')}/oauth/{tenant_slug}/callback"


def token_store(services: Services) -> TokenStore:
    """The encrypted token table, keyed by SALONBRIDGE_TOKEN_KEY or (derived) SECRET_KEY."""
    return TokenStore(services.store, services.settings.token_key or services.settings.secret_key)


def oauth_credentials(tenant: Tenant) -> tuple[str, str]:
    """The integration's client id and secret from the environment variables the tenant file names."""
    account = tenant.amocrm
    missing = [
        f"amocrm.{name} ({env or 'not named in the tenant file'})"
        for name, env in (("client_id_env", account.client_id_env), ("client_secret_env", account.client_secret_env))
        if not tenant.secret(env)
    ]
    if missing:
        raise ConnectError(f"tenant {tenant.slug!r}: OAuth needs {' and '.join(missing)} to be set")
    return str(tenant.secret(account.client_id_env)), str(tenant.secret(account.client_secret_env))


def env_long_lived_token(tenant: Tenant) -> str | None:
    """The long-lived token from the environment, when the tenant names a variable and it is set."""
    return tenant.secret(tenant.amocrm.long_lived_token_env) or None


# --- the client ----------------------------------------------------------------------------------


def client_for(tenant: Tenant, services: Services, **client_options: Any) -> AmoCrmClient:
    """A client for the tenant's account; raises ``NotConnected`` / ``ReauthRequired`` / ``ConnectError``
    up front instead of on the first call. ``client_options`` go to ``AmoCrmClient`` (tests, ``status``)."""
    redis = services.queue.connection
    base_url = tenant.amocrm.base_url
    env_token = env_long_lived_token(tenant)
    if env_token:
        provider: Any = StaticTokenProvider(env_token, tenant=tenant.slug)
    else:
        tokens = token_store(services)
        current = tokens.load(tenant.slug)
        if current is None:
            raise NotConnected(tenant.slug)
        if current.state == NEEDS_REAUTH:
            raise ReauthRequired(tenant.slug, "the connection was marked needs_reauth")
        refresher = _no_refresh if current.long_lived else _counted(_refresher(tenant, services.settings), redis,
                                                                       tenant.slug)
        provider = TokenProvider(tenant.slug, tokens, refresher, redis_lock_factory(redis))
    limiter = RedisRateLimiter.for_account(redis, base_url, tenant.amocrm.requests_per_second)
    known = load_account_map(services.store, tenant.slug)
    client_options.setdefault("marker_fields", known.marker_fields() if known else None)
    client_options.setdefault("observer", telemetry.AmoCrmRecorder(redis, tenant.slug))
    return AmoCrmClient(base_url, provider, limiter=limiter, **client_options)


def _refresher(tenant: Tenant, settings: Settings) -> OAuthRefresher:
    client_id, client_secret = oauth_credentials(tenant)
    return OAuthRefresher(tenant.amocrm.base_url, client_id, client_secret, redirect_uri(tenant.slug, settings))


def _counted(refresher: OAuthRefresher, redis: Any, tenant: str) -> Callable[[str], TokenResponse]:
    """The refresher, counting each call to amoCRM's token endpoint by outcome (ok, or the error's kind)."""

    def refresh(refresh_token: str) -> TokenResponse:
        try:
            fresh = refresher(refresh_token)
        except Exception as exc:
            telemetry.count(redis, telemetry.AMOCRM_TOKEN_REFRESHES, {"tenant": tenant, "outcome": type(exc).__name__})
            raise
        telemetry.count(redis, telemetry.AMOCRM_TOKEN_REFRESHES, {"tenant": tenant, "outcome": "ok"})
        return fresh

    return refresh


def _no_refresh(_: str) -> TokenResponse:
    raise AssertionError("long-lived tokens are never refreshed")  # TokenProvider never calls it for them


# --- OAuth: the signed state, the consent link, the callback ---------------------------------------


def sign_state(secret_key: str, tenant_slug: str, *, now: float | None = None, ttl_s: int = STATE_TTL_S) -> str:
    """``<tenant>.<expires>.<nonce>.<hmac>``: binds the consent round trip to this tenant and a deadline."""
    expires = int((time.time() if now is None else now) + ttl_s)
    body = f"{tenant_slug}.{expires}.{secrets.token_hex(8)}"
    return f"{body}.{_mac(secret_key, body)}"


def verify_state(secret_key: str, tenant_slug: str, state: str, *, now: float | None = None) -> bool:
    """True only for an untampered, unexpired state issued for ``tenant_slug`` (constant-time compare).

    Never raises: a state that is not even shaped like ours (``state_is_well_formed``) is simply false."""
    if not state_is_well_formed(state):
        return False
    body, _, mac = state.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not hmac.compare_digest(_mac(secret_key, body), mac):
        return False
    slug, expires, _nonce = parts
    return slug == tenant_slug and expires.isdigit() and int(expires) >= (time.time() if now is None else now)


MAX_STATE_CHARS = 256


def state_is_well_formed(state: str | None) -> bool:
    """Shaped like a state ``sign_state`` issues: ASCII, four dot-separated parts, not overlong."""
    return (isinstance(state, str) and 0 < len(state) <= MAX_STATE_CHARS and state.isascii()
            and state.count(".") >= 3)


def _mac(secret_key: str, body: str) -> str:
    digest = hmac.new(secret_key.encode(), _STATE_CONTEXT + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def consent_url(tenant: Tenant, settings: Settings) -> str:
    """The link an account admin opens to allow the integration (client_id and a fresh signed state)."""
    client_id, _ = oauth_credentials(tenant)
    return authorization_url(tenant.amocrm.base_url, client_id, sign_state(settings.secret_key, tenant.slug))


def complete_authorization(tenant: Tenant, services: Services, code: str, referer: str | None) -> TokenSet:
    """Exchange the consent code for tokens and store them encrypted (replacing whatever was there).

    The token endpoint is the configured ``amocrm.base_url``; a ``referer`` naming another host is
    refused rather than followed, because the exchange sends our client secret to that host.
    """
    _check_referer(tenant, referer)
    client_id, client_secret = oauth_credentials(tenant)
    pair = exchange_code(
        tenant.amocrm.base_url, client_id, client_secret, code, redirect_uri(tenant.slug, services.settings)
    )
    stored = token_store(services).save_authorized(tenant.slug, pair)
    log.info("amoCRM connected for %s (access %s)", tenant.slug, fingerprint(stored.access_token))
    return stored


def accept_long_lived(tenant: Tenant, services: Services, token: str) -> tuple[TokenSet, dict[str, Any]]:
    """Check a private integration's long-lived token with ``GET /api/v4/account``, then store it
    encrypted. A refused token is not stored (``ReauthRequired``); returns the stored set and the account."""
    limiter = RedisRateLimiter.for_account(services.queue.connection, tenant.amocrm.base_url,
                                           tenant.amocrm.requests_per_second)
    probe = AmoCrmClient(tenant.amocrm.base_url, StaticTokenProvider(token, tenant=tenant.slug), limiter=limiter,
                         max_retries=1, max_sleep_s=2.0)
    account = probe.account()
    stored = token_store(services).save_long_lived(tenant.slug, token)
    log.info("amoCRM long-lived token stored for %s (%s)", tenant.slug, fingerprint(token))
    return stored, account


def _check_referer(tenant: Tenant, referer: str | None) -> None:
    if not referer:
        return
    given = urlsplit(referer if "//" in referer else f"//{referer}").netloc.lower()
    configured = urlsplit(tenant.amocrm.base_url).netloc.lower()
    if given != configured:
        raise ConnectError(
            f"amoCRM says the account lives at {given}, but the tenant file has amocrm.base_url "
            f"{tenant.amocrm.base_url}; fix the tenant file and connect again"
        )


# --- status --------------------------------------------------------------------------------------

CONNECTED, NEEDS_REAUTH_STATE, NOT_CONNECTED, FAILING = "connected", "needs_reauth", "not connected", "error"


@dataclass(frozen=True)
class ConnectionStatus:
    """What ``salonbridge amocrm status`` prints for one tenant (no secrets in it)."""

    tenant: str
    state: str  # connected | needs_reauth | not connected | error
    source: str = ""  # "OAuth", "long-lived token (stored)", "long-lived token from $VAR"
    expires_at: datetime | None = None
    account_name: str | None = None
    account_id: int | None = None
    problem: str = ""


def connection_status(tenant: Tenant, services: Services, *, probe: bool = True) -> ConnectionStatus:
    """The tenant's connection; with ``probe`` also ``GET /api/v4/account`` (one call, one retry at most)."""
    env_token = env_long_lived_token(tenant)
    if env_token:
        source, expires = f"long-lived token from ${tenant.amocrm.long_lived_token_env}", jwt_expiry(env_token)
    else:
        try:
            stored = token_store(services).load(tenant.slug)
        except AmoError as exc:  # e.g. the encryption key changed
            return ConnectionStatus(tenant.slug, FAILING, problem=str(exc))
        if stored is None:
            return ConnectionStatus(tenant.slug, NOT_CONNECTED)
        source = "long-lived token (stored)" if stored.long_lived else "OAuth"
        expires = stored.expires_at
        if stored.state == NEEDS_REAUTH:
            return ConnectionStatus(tenant.slug, NEEDS_REAUTH_STATE, source, expires, problem="marked needs_reauth")
    if not probe:
        return ConnectionStatus(tenant.slug, CONNECTED, source, expires)
    try:
        account = client_for(tenant, services, max_retries=1, max_sleep_s=2.0).account()
    except ReauthRequired as exc:
        return ConnectionStatus(tenant.slug, NEEDS_REAUTH_STATE, source, expires, problem=exc.reason)
    except AccountBlocked as exc:
        return ConnectionStatus(tenant.slug, FAILING, source, expires, problem=f"blocked by amoCRM: {exc}")
    except AmoError as exc:
        return ConnectionStatus(tenant.slug, FAILING, source, expires, problem=str(exc))
    if source == "OAuth":  # a refresh during the probe moves the expiry
        fresh = token_store(services).load(tenant.slug)
        expires = fresh.expires_at if fresh else expires
    account_id = account.get("id")
    return ConnectionStatus(
        tenant.slug, CONNECTED, source, expires, account.get("name"), int(account_id) if account_id else None
    )


def expiry_text(expires_at: datetime | None, now: datetime | None = None) -> str:
    if expires_at is None:
        return "no expiry known"
    left = expires_at - (now or datetime.now(UTC))
    when = expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if left.total_seconds() <= 0:
        return f"expired {when}"
    days, hours = left.days, left.seconds // 3600
    return f"expires {when} (in {days} d {hours} h)" if days else f"expires {when} (in {hours} h)"
