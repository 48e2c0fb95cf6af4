"""Signed links to a client's own page (visits, review form, opt-out), short enough for an SMS.

Token: ``base64url(json [tenant, client, purpose, expires])`` ``.`` ``base64url(HMAC-SHA256)`` truncated to
128 bits. The HMAC key is derived from the app secret for this use only, so a token can never pass as
any other signed value. Verification checks the signature first (constant time), then the expiry and
the expected tenant/purpose. Several secrets may be given to verify during a key rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

CLIENT_PAGE_PATH = "/c/"  # the web route that serves the client's page: <public_url>/c/<token>
SIGNATURE_BYTES = 16
MAX_TOKEN_CHARS = 1000
_CONTEXT = b"salonbridge client link v1"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class LinkError(ValueError):
    """The token cannot be trusted (malformed, wrong signature, other tenant or purpose)."""


class LinkExpired(LinkError):
    """Signed by us, but past its expiry."""


@dataclass(frozen=True)
class ClientLink:
    tenant: str
    client_id: str
    purpose: str
    expires_at: datetime


def sign_client_link(secret: str | bytes, tenant: str, client_id: str, purpose: str, expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if not (tenant and client_id and purpose):
        raise ValueError("tenant, client_id and purpose must be non-empty")
    claims = [tenant, str(client_id), purpose, int(expires_at.timestamp())]
    payload = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{_b64(_signature(secret, payload))}"


def verify(
    secret: str | bytes | Sequence[str | bytes],
    token: str,
    *,
    tenant: str | None = None,
    purpose: str | None = None,
    now: datetime | None = None,
) -> ClientLink:
    """The link's claims; raises LinkExpired or LinkError. ``tenant``/``purpose`` are enforced when given."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise LinkError("malformed link")
    payload, _, signature = token.partition(".")
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    given = _unb64(signature)
    if not any(hmac.compare_digest(_signature(s, payload), given) for s in secrets):
        raise LinkError("bad signature")
    link = _claims(payload)
    if tenant is not None and link.tenant != tenant:
        raise LinkError("link of another salon")
    if purpose is not None and link.purpose != purpose:
        raise LinkError(f"link is for {link.purpose!r}, not {purpose!r}")
    if (now or datetime.now(UTC)) >= link.expires_at:
        raise LinkExpired(f"link expired at {link.expires_at.isoformat()}")
    return link


def client_page_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{CLIENT_PAGE_PATH}{token}"


def client_link(
    secret: str | bytes, public_url: str, tenant: str, client_id: str, purpose: str, expires_at: datetime
) -> str:
    """The ``link`` placeholder's value: the client's page URL with a freshly signed token."""
    return client_page_url(public_url, sign_client_link(secret, tenant, client_id, purpose, expires_at))


def _signature(secret: str | bytes, payload: str) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 16:
        raise ValueError("the link secret must be at least 16 bytes")
    key = hmac.new(raw, _CONTEXT, hashlib.sha256).digest()
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES]


def _claims(payload: str) -> ClientLink:
    try:
        tenant, client_id, purpose, expires = json.loads(_unb64(payload))
        return ClientLink(str(tenant), str(client_id), str(purpose), datetime.fromtimestamp(int(expires), UTC))
    except (ValueError, TypeError, OverflowError) as exc:  # signed by us, so only an old/foreign format
        raise LinkError("unreadable link") from exc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""
