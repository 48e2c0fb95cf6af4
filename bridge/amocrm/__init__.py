"""amoCRM / Kommo API v4: our own client, shared rate limiter, OAuth with rotation-safe token storage.

Wiring for one tenant (the composition root does this once per process)::

    tokens = TokenStore(store, settings.token_key or settings.secret_key)
    refresher = OAuthRefresher(base_url, client_id, client_secret, redirect_uri)
    provider = TokenProvider(tenant.slug, tokens, refresher, redis_lock_factory(redis))
    limiter = RedisRateLimiter.for_account(redis, base_url, tenant.amocrm.requests_per_second)
    client = AmoCrmClient(base_url, provider, limiter=limiter)
"""

from bridge.amocrm.client import AmoCrmClient, common_note, service_note
from bridge.amocrm.errors import (
    AccountBlocked,
    AmbiguousWrite,
    AmoError,
    AmoHttpError,
    AmoValidationError,
    InvalidGrant,
    RateLimited,
    ReauthRequired,
    TokenEndpointError,
)
from bridge.amocrm.markers import make_marker
from bridge.amocrm.oauth import OAuthRefresher, TokenResponse, authorization_url, exchange_code
from bridge.amocrm.provider import StaticTokenProvider, TokenProvider, redis_lock_factory
from bridge.amocrm.ratelimit import RedisRateLimiter, pause, paused_until, resume
from bridge.amocrm.tokens import TokenStore, fernet_from_secret

__all__ = [
    "AccountBlocked",
    "AmbiguousWrite",
    "AmoCrmClient",
    "AmoError",
    "AmoHttpError",
    "AmoValidationError",
    "InvalidGrant",
    "OAuthRefresher",
    "RateLimited",
    "ReauthRequired",
    "RedisRateLimiter",
    "StaticTokenProvider",
    "TokenEndpointError",
    "TokenProvider",
    "TokenResponse",
    "TokenStore",
    "authorization_url",
    "common_note",
    "exchange_code",
    "fernet_from_secret",
    "make_marker",
    "pause",
    "paused_until",
    "redis_lock_factory",
    "resume",
    "service_note",
]
