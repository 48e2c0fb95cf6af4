"""Encrypted token storage in ``oauth_tokens``: one row per tenant, ``version`` fencing every rotation.

Tokens live in the database (never only in Redis or memory) so a rotation survives any crash, and are
encrypted with Fernet under a key from the environment. Nothing here logs a token; ``fingerprint``
gives a short hash for log lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import update

from bridge.amocrm.errors import AmoError, StaleTokenVersion
from bridge.amocrm.oauth import TokenResponse
from bridge.store.db import Store
from bridge.store.models import OAuthToken

OK, NEEDS_REAUTH = "ok", "needs_reauth"
_HKDF_SALT = b"salonbridge/oauth-tokens"
_HKDF_INFO = b"fernet-key-v1"


def fingerprint(token: str | None) -> str:
    """A log-safe token id: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:12] if token else "-"


def fernet_from_secret(secret: str) -> Fernet:
    """A Fernet from the environment: a Fernet key is used as is; any other (high-entropy) secret,
    e.g. SECRET_KEY, is stretched to a key with HKDF-SHA256."""
    try:
        return Fernet(secret.encode())
    except (ValueError, binascii.Error):
        pass
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))


@dataclass(frozen=True)
class TokenSet:
    """Decrypted tokens of one tenant. ``refresh_token`` None means a long-lived token (no refresh)."""

    tenant: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    version: int
    state: str

    @property
    def long_lived(self) -> bool:
        return self.refresh_token is None


class TokenStore:
    """Reads and writes ``OAuthToken`` rows; the only code that sees the encryption key."""

    def __init__(self, store: Store, fernet_key: Fernet | MultiFernet | str | bytes):
        self.store = store
        if isinstance(fernet_key, bytes):
            fernet_key = fernet_key.decode()
        self._fernet = fernet_from_secret(fernet_key) if isinstance(fernet_key, str) else fernet_key

    def load(self, tenant: str) -> TokenSet | None:
        with self.store.session() as s:
            row = s.get(OAuthToken, tenant)
            return self._decrypt(row) if row else None

    def save_authorized(self, tenant: str, tokens: TokenResponse) -> TokenSet:
        """Store the pair from a (re-)authorization, replacing whatever the tenant had."""
        return self._replace(tenant, tokens.access_token, tokens.refresh_token, tokens.expires_at)

    def save_long_lived(self, tenant: str, token: str, expires_at: datetime | None = None) -> TokenSet:
        """Store a private integration's long-lived token: never refreshed; expiry read from the JWT
        ``exp`` claim when not given (for reporting only)."""
        return self._replace(tenant, token, None, expires_at or jwt_expiry(token))

    def rotate(self, tenant: str, old_version: int, tokens: TokenResponse) -> TokenSet:
        """Persist a refreshed pair only if nobody rotated since ``old_version`` (fencing)."""
        now = datetime.now(UTC)
        with self.store.session() as s:
            result = s.execute(
                update(OAuthToken)
                .where(OAuthToken.tenant == tenant, OAuthToken.version == old_version)
                .values(
                    access_token=self._encrypt(tokens.access_token),
                    refresh_token=self._encrypt(tokens.refresh_token),
                    expires_at=tokens.expires_at,
                    version=old_version + 1,
                    state=OK,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                raise StaleTokenVersion(f"tokens of {tenant!r} moved past version {old_version}")
        return TokenSet(tenant, tokens.access_token, tokens.refresh_token, tokens.expires_at, old_version + 1, OK)

    def mark_needs_reauth(self, tenant: str) -> None:
        with self.store.session() as s:
            s.execute(
                update(OAuthToken)
                .where(OAuthToken.tenant == tenant)
                .values(state=NEEDS_REAUTH, version=OAuthToken.version + 1, updated_at=datetime.now(UTC))
            )

    def _replace(self, tenant: str, access: str, refresh: str | None, expires_at: datetime | None) -> TokenSet:
        now = datetime.now(UTC)
        with self.store.session() as s:
            row = s.get(OAuthToken, tenant)
            if row is None:
                row = OAuthToken(tenant=tenant, version=0)
                s.add(row)
            row.access_token = self._encrypt(access)
            row.refresh_token = self._encrypt(refresh)
            row.expires_at = expires_at
            row.version = (row.version or 0) + 1
            row.state = OK
            row.updated_at = now
            s.flush()
            return self._decrypt(row)

    def _encrypt(self, value: str | None) -> bytes | None:
        return self._fernet.encrypt(value.encode()) if value is not None else None

    def _decrypt(self, row: OAuthToken) -> TokenSet:
        try:
            access = self._fernet.decrypt(row.access_token).decode()
            refresh = self._fernet.decrypt(row.refresh_token).decode() if row.refresh_token else None
        except InvalidToken as exc:
            raise AmoError(f"cannot decrypt the amoCRM tokens of {row.tenant!r}: wrong or rotated key") from exc
        return TokenSet(row.tenant, access, refresh, row.expires_at, row.version, row.state)


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (amoCRM tokens are JWTs); None if absent."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return None
