"""amoCRM OAuth 2.0 calls: consent URL, code exchange, refresh, and the disconnect-hook signature.

The token endpoint lives on the account's own host (``{sub}.amocrm.ru|.amocrm.com|.kommo.com``), so
every call takes the account base URL. These functions never retry: a refresh token that may have been
spent must not be sent twice blindly; ``TokenProvider`` decides what happens next.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import requests

from bridge.amocrm import transport
from bridge.amocrm.errors import InvalidGrant, TokenEndpointError

TOKEN_TIMEOUT = (3.05, 15.0)  # the vendor SDK gives OAuth calls 15 s
ACCOUNT_HOST_SUFFIXES = (".amocrm.ru", ".amocrm.com", ".kommo.com")
_CONSENT_HOSTS = {".amocrm.ru": "www.amocrm.ru", ".amocrm.com": "www.amocrm.com", ".kommo.com": "www.kommo.com"}


@dataclass(frozen=True)
class TokenResponse:
    """A token pair as issued; ``repr`` never shows the secrets."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None


def authorization_url(base_url: str, client_id: str, state: str, *, mode: str = "post_message") -> str:
    """The consent page URL (spec §2.1): ``https://www.amocrm.ru/oauth?client_id=…&state=…&mode=…``.

    ``base_url`` is the account (or just the region: ``https://x.kommo.com`` → ``www.kommo.com``);
    any other host — the sandbox — serves ``/oauth`` itself.
    """
    if mode not in {"popup", "post_message"}:
        raise ValueError("mode: expected 'popup' or 'post_message'")
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    consent = next((f"https://{www}" for sfx, www in _CONSENT_HOSTS.items() if host.endswith(sfx)), None)
    root = consent or f"{parts.scheme}://{parts.netloc}"
    return f"{root}/oauth?" + urlencode({"client_id": client_id, "state": state, "mode": mode})


def base_url_from_referer(referer: str, *, allowed_suffixes: tuple[str, ...] = ACCOUNT_HOST_SUFFIXES) -> str:
    """The account base URL from the redirect's ``referer`` — only for real amoCRM/Kommo hosts, because
    the code exchange sends our client secret to that host."""
    host = referer.strip().lower().removeprefix("https://").split("/", 1)[0]
    if not host or not any(host.endswith(sfx) for sfx in allowed_suffixes) or host.startswith("www."):
        raise ValueError(f"referer {referer!r} is not an amoCRM/Kommo account host")
    return f"https://{host}"


def exchange_code(
    base_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = TOKEN_TIMEOUT,
) -> TokenResponse:
    """Authorization code (valid 20 min, single use) → access + refresh token."""
    body = {"grant_type": "authorization_code", "code": code}
    return _token_call(base_url, client_id, client_secret, redirect_uri, body, session, timeout)


def refresh_grant(
    base_url: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    redirect_uri: str,
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = TOKEN_TIMEOUT,
) -> TokenResponse:
    """Refresh token → a NEW pair; the old refresh token must be considered spent."""
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_call(base_url, client_id, client_secret, redirect_uri, body, session, timeout)


class OAuthRefresher:
    """The ``refresher`` a ``TokenProvider`` calls: one tenant's client credentials bound to the host."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TOKEN_TIMEOUT,
    ):
        self.base_url, self.client_id, self.redirect_uri = base_url, client_id, redirect_uri
        self._secret, self._session, self.timeout = client_secret, session, timeout

    def __call__(self, refresh_token: str) -> TokenResponse:
        return refresh_grant(
            self.base_url,
            self.client_id,
            self._secret,
            refresh_token,
            self.redirect_uri,
            session=self._session,
            timeout=self.timeout,
        )


def verify_disconnect_signature(client_id: str, account_id: str, signature: str, client_secret: str) -> bool:
    """The integration-disabled hook (spec §2.8): HMAC-SHA256(client_secret, "client_id|account_id")."""
    expected = hmac.new(client_secret.encode(), f"{client_id}|{account_id}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def _token_call(
    base_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    grant: dict[str, str],
    session: requests.Session | None,
    timeout: tuple[float, float],
) -> TokenResponse:
    body = {"client_id": client_id, "client_secret": client_secret, "redirect_uri": redirect_uri, **grant}
    url = base_url.rstrip("/") + "/oauth2/access_token"
    try:
        response = (session or transport.default_session()).post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise TokenEndpointError(f"token endpoint {url} unreachable: {type(exc).__name__}") from exc
    if response.status_code in (400, 401):  # a definite refusal; 403/429/5xx may pass
        problem = transport.problem(response) or {}
        hint = str(problem.get("hint") or problem.get("detail") or response.reason)
        raise InvalidGrant(response.status_code, hint)
    if response.status_code != 200:
        raise TokenEndpointError(f"token endpoint {url} answered HTTP {response.status_code}")
    return _parse_tokens(response)


def _parse_tokens(response: requests.Response) -> TokenResponse:
    try:
        data = response.json()
        access = str(data["access_token"])
        expires_in = int(data.get("expires_in") or 86_400)
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenEndpointError("token endpoint answered 200 without a usable token") from exc
    # Our own clock, not ``server_time``: what matters is how long we may use the token from now.
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    refresh = data.get("refresh_token")
    return TokenResponse(access, str(refresh) if refresh else None, expires_at)
