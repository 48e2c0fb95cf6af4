"""OAuth 2.0 as amoCRM runs it (§2): 20-minute single-use codes, 24 h JWT access tokens, rotating
refresh tokens, long-lived tokens without refresh. All of it is persisted with the account, so a
client's tokens survive a sandbox restart."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.problems import unauthorized
from amocrm_sandbox.seed import ADMIN_ID
from amocrm_sandbox.state import Data, Store

SCOPES = ["crm", "files", "files_delete", "notifications", "push_notification"]


class OAuthError(Exception):
    """A refusal of the token endpoint; ``hint`` values are the ones observed in the wild (§2.5)."""

    def __init__(self, status: int, hint: str):
        super().__init__(hint)
        self.status, self.hint = status, hint

    def body(self) -> dict[str, Any]:
        return {"hint": self.hint, "title": "Некорректный запрос",
                "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson", "status": self.status,
                "detail": "В запросе отсутствует ряд параметров или параметры невалидны"}


@dataclass(frozen=True)
class Principal:
    """Who a request acts as."""

    user_id: int
    long_lived: bool


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenService:
    def __init__(self, store: Store, options: SandboxOptions, now: Callable[[], float]):
        self._store, self._opt, self._now = store, options, now
        self.issued: deque[dict[str, Any]] = deque(maxlen=1000)  # pairs in issue order (``GET /_sandbox/tokens``)

    def _ts(self) -> int:
        return int(self._now())

    # -- issuing ---------------------------------------------------------------------------------

    def issue_code(self) -> str:
        code = "def50200" + secrets.token_hex(96)
        with self._store.write() as data:
            data["oauth"]["codes"][code] = {"client_id": self._opt.client_id, "exp": self._ts() + self._opt.code_ttl,
                                            "used": False}
        return code

    def issue_pair(self, api_domain: str) -> dict[str, Any]:
        with self._store.write() as data:
            return self._pair(data, api_domain)

    def issue_long_lived(self, api_domain: str, ttl: int) -> dict[str, Any]:
        with self._store.write() as data:
            token, exp = self._access(data, api_domain, ttl, long_lived=True)
        return {"access_token": token, "expires_at": exp, "token_type": "Bearer"}

    def _pair(self, data: Data, api_domain: str) -> dict[str, Any]:
        self._prune(data)
        access, _ = self._access(data, api_domain, self._opt.access_token_ttl, long_lived=False)
        refresh = "def50200" + secrets.token_hex(160)
        data["oauth"]["refresh"][refresh] = {"exp": self._ts() + self._opt.refresh_token_ttl, "state": "active",
                                             "successor": None, "predecessor": None}
        self.issued.append({"access_token": access, "refresh_token": refresh, "issued_at": self._ts()})
        return {"token_type": "Bearer", "expires_in": self._opt.access_token_ttl, "server_time": self._ts(),
                "access_token": access, "refresh_token": refresh}

    def _access(self, data: Data, api_domain: str, ttl: int, *, long_lived: bool) -> tuple[str, int]:
        """A JWT with ``exp`` and ``api_domain`` (§2.4) so clients can pre-refresh; validity is still
        decided by the stored record, which is how revocation works."""
        now = self._ts()
        exp = now + ttl
        claims = {"aud": self._opt.client_id, "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": exp,
                  "sub": str(ADMIN_ID), "grant_type": "", "account_id": data["account"]["id"],
                  "base_domain": "amocrm.ru", "version": 2, "scopes": SCOPES, "api_domain": api_domain}
        head = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = _b64(hmac.new(data["secret"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{sig}"
        data["oauth"]["access"][token] = {"user_id": ADMIN_ID, "exp": exp, "long_lived": long_lived,
                                         "revoked": False}
        return token, exp

    def _prune(self, data: Data) -> None:
        """Forget tokens dead for a day so the state file does not grow forever."""
        horizon = self._ts() - 86400
        for table in ("access", "refresh", "codes"):
            rows = data["oauth"][table]
            for key in [k for k, v in rows.items() if v["exp"] < horizon]:
                del rows[key]

    # -- the token endpoint -----------------------------------------------------------------------

    def grant(self, body: dict[str, Any], api_domain: str) -> dict[str, Any]:
        if body.get("client_id") != self._opt.client_id or body.get("client_secret") != self._opt.client_secret:
            raise OAuthError(401, "Client authentication failed")
        if not body.get("redirect_uri"):
            raise OAuthError(400, "Check the `redirect_uri` parameter")
        if body["redirect_uri"] != self._opt.redirect_uri:
            raise OAuthError(400, "Invalid redirect_uri")
        grant_type = body.get("grant_type")
        with self._store.write() as data:
            if grant_type == "authorization_code":
                self._spend_code(data, str(body.get("code") or ""))
            elif grant_type == "refresh_token":
                self._spend_refresh(data, str(body.get("refresh_token") or ""))
            else:
                raise OAuthError(400, "The authorization grant type is not supported by the authorization server.")
            pair = self._pair(data, api_domain)
            if grant_type == "refresh_token":
                self._chain(data, str(body["refresh_token"]), pair["refresh_token"])
            return pair

    def _spend_code(self, data: Data, code: str) -> None:
        row = data["oauth"]["codes"].get(code)
        if row is None:
            raise OAuthError(400, "Cannot decrypt the authorization code")
        if row["used"]:
            raise OAuthError(400, "Authorization code has been revoked")
        if row["exp"] < self._ts():
            raise OAuthError(400, "Authorization code has expired")
        row["used"] = True

    def _spend_refresh(self, data: Data, token: str) -> None:
        """Strict rotation by default ([RU]: a refresh token is exchangeable once). With
        ``refresh_grace`` a spent token still works while its successor is unused (Kommo, §2.4)."""
        rows = data["oauth"]["refresh"]
        row = rows.get(token)
        if row is None:
            raise OAuthError(400, "Invalid refresh token")
        if row["exp"] < self._ts():
            raise OAuthError(400, "Token has expired")
        if row["state"] == "spent":
            successor = rows.get(row["successor"] or "")
            if not (self._opt.refresh_grace and successor and successor["state"] == "active"):
                raise OAuthError(401, "Token has been revoked")
            successor["state"] = "revoked"  # the grace reuse supersedes the unused successor
        elif row["state"] != "active":
            raise OAuthError(401, "Token has been revoked")
        predecessor = rows.get(row.get("predecessor") or "")
        if predecessor:
            predecessor["state"] = "revoked"  # the new token is now in use: no more grace for the old one
        row["state"] = "spent"

    def _chain(self, data: Data, old: str, new: str) -> None:
        rows = data["oauth"]["refresh"]
        rows[old]["successor"] = new
        rows[new]["predecessor"] = old

    # -- checking and test controls ---------------------------------------------------------------

    def authenticate(self, header: str | None) -> Principal:
        if not header or not header.startswith("Bearer "):
            raise unauthorized()
        token = header[len("Bearer "):].strip()
        with self._store.read() as data:
            row = data["oauth"]["access"].get(token)
            if row is None or row["revoked"] or row["exp"] <= self._ts():
                raise unauthorized()
            return Principal(row["user_id"], row["long_lived"])

    def is_oauth_access(self, token: str) -> bool:
        """A known access token of an OAuth pair (not a long-lived one)."""
        with self._store.read() as data:
            row = data["oauth"]["access"].get(token)
            return bool(row) and not row["long_lived"]

    def refresh_token_is_live(self, token: str) -> bool:
        with self._store.read() as data:
            row = data["oauth"]["refresh"].get(token)
            return bool(row) and row["state"] != "revoked" and row["exp"] >= self._ts()

    def expire(self, token: str | None) -> int:
        """Make one access token (or every OAuth access token) expired now; refresh tokens stay valid."""
        with self._store.write() as data:
            rows = data["oauth"]["access"]
            chosen = [token] if token else [k for k, v in rows.items() if not v["long_lived"]]
            count = 0
            for key in chosen:
                if key in rows and rows[key]["exp"] > self._ts() - 1:
                    rows[key]["exp"] = self._ts() - 1
                    count += 1
            return count

    def revoke_all(self) -> None:
        """What deactivating the integration does: every token answers 401 from now on (§2.4)."""
        with self._store.write() as data:
            for row in data["oauth"]["access"].values():
                row["revoked"] = True
            for row in data["oauth"]["refresh"].values():
                row["state"] = "revoked"
