"""The sandbox's OAuth over real HTTP: code exchange, rotating refresh tokens, expiry, long-lived tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from amocrm_sandbox import SandboxOptions, create_sandbox_app
from tests.fakes.http import serve

START = 1_780_000_000.0
OPTIONS = SandboxOptions(client_id="cid-1", client_secret="secret-1", redirect_uri="https://mw.example/oauth/cb")


class WallClock:
    def __init__(self) -> None:
        self.t = START

    def __call__(self) -> float:
        return self.t


@dataclass
class OAuth:
    base_url: str
    clock: WallClock

    def control(self, **body: Any) -> dict:
        response = requests.post(f"{self.base_url}/_sandbox/tokens", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def grant(self, **overrides: Any) -> requests.Response:
        body = {"client_id": "cid-1", "client_secret": "secret-1", "redirect_uri": "https://mw.example/oauth/cb",
                **overrides}
        return requests.post(f"{self.base_url}/oauth2/access_token", json=body, timeout=5)

    def api_status(self, token: str) -> int:
        return requests.get(f"{self.base_url}/api/v4/account", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).status_code


@contextmanager
def _serve(tmp: Path, clock: WallClock, options: SandboxOptions) -> Iterator[str]:
    app = create_sandbox_app(tmp / "amocrm.json", requests_per_second=10_000, now=clock, options=options)
    with serve(app) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, WallClock]]:
    clock = WallClock()
    with _serve(tmp_path_factory.mktemp("oauth"), clock, OPTIONS) as base_url:
        yield base_url, clock


@pytest.fixture
def oauth(running: tuple[str, WallClock]) -> OAuth:
    base_url, clock = running
    clock.t = START
    requests.post(f"{base_url}/_sandbox/reset", json={"tokens": True}, timeout=5).raise_for_status()
    return OAuth(base_url, clock)


def _oauth_error(response: requests.Response, status: int, hint: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["hint"] == hint and body["status"] == status
    assert body["type"] == "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
    assert {"title", "detail"} <= body.keys()


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_code_exchange_and_single_use(oauth: OAuth) -> None:
    code = oauth.control(action="code")["code"]
    response = oauth.grant(grant_type="authorization_code", code=code)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    pair = response.json()
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 86400 and pair["server_time"] == int(START)
    assert _claims(pair["access_token"])["exp"] == int(START) + 86400
    assert oauth.api_status(pair["access_token"]) == 200
    _oauth_error(oauth.grant(grant_type="authorization_code", code=code), 400, "Authorization code has been revoked")
    _oauth_error(oauth.grant(grant_type="authorization_code", code="def502garbage"), 400,
                 "Cannot decrypt the authorization code")


def test_code_expires_after_20_minutes(oauth: OAuth) -> None:
    code = oauth.control(action="code")["code"]
    oauth.clock.t += 20 * 60 + 1
    _oauth_error(oauth.grant(grant_type="authorization_code", code=code), 400, "Authorization code has expired")


def test_consent_redirect_carries_code_referer_and_state(oauth: OAuth) -> None:
    response = requests.get(f"{oauth.base_url}/oauth?client_id=cid-1&state=tenant-7", allow_redirects=False,
                            timeout=5)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://mw.example/oauth/cb"
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["state"] == "tenant-7" and query["referer"] == urlsplit(oauth.base_url).netloc
    assert oauth.grant(grant_type="authorization_code", code=query["code"]).status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_is_revoked(oauth: OAuth) -> None:
    first = oauth.control()
    second = oauth.grant(grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    _oauth_error(oauth.grant(grant_type="refresh_token", refresh_token=first["refresh_token"]), 401,
                 "Token has been revoked")
    third = oauth.grant(grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200 and oauth.api_status(third.json()["access_token"]) == 200
    _oauth_error(oauth.grant(grant_type="refresh_token", refresh_token="def50200nope"), 400, "Invalid refresh token")


def test_expired_access_token_gets_401_until_refreshed(oauth: OAuth) -> None:
    pair = oauth.control()
    oauth.clock.t += 86400
    response = requests.get(f"{oauth.base_url}/api/v4/leads", timeout=5,
                            headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert response.status_code == 401 and response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Invalid user name or password"
    renewed = oauth.grant(grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
    assert oauth.api_status(renewed["access_token"]) == 200


def test_expire_helper_and_revocation(oauth: OAuth) -> None:
    pair = oauth.control()
    assert oauth.control(action="expire") == {"expired": 1}
    assert oauth.api_status(pair["access_token"]) == 401
    long_lived = oauth.control(action="long_lived", expires_in=3600)
    assert long_lived["expires_at"] == int(START) + 3600
    assert oauth.api_status(long_lived["access_token"]) == 200  # "expire" leaves long-lived tokens alone
    oauth.clock.t += 3600
    assert oauth.api_status(long_lived["access_token"]) == 401  # and it cannot be refreshed
    fresh = oauth.control()
    oauth.control(action="revoke")
    assert oauth.api_status(fresh["access_token"]) == 401
    _oauth_error(oauth.grant(grant_type="refresh_token", refresh_token=fresh["refresh_token"]), 401,
                 "Token has been revoked")


def test_client_credentials_and_redirect_uri_are_checked(oauth: OAuth) -> None:
    code = oauth.control(action="code")["code"]
    _oauth_error(oauth.grant(grant_type="authorization_code", code=code, client_secret="wrong"), 401,
                 "Client authentication failed")
    _oauth_error(oauth.grant(grant_type="authorization_code", code=code, redirect_uri="https://evil.example"), 400,
                 "Invalid redirect_uri")
    assert oauth.grant(grant_type="authorization_code", code=code).status_code == 200  # code was not spent


def test_kommo_grace_lets_the_old_refresh_token_work_until_the_new_one_is_used(tmp_path: Path) -> None:
    clock = WallClock()
    options = SandboxOptions(**{**OPTIONS.__dict__, "refresh_grace": True})
    with _serve(tmp_path, clock, options) as base_url:
        oauth = OAuth(base_url, clock)
        old = oauth.control()["refresh_token"]
        lost = oauth.grant(grant_type="refresh_token", refresh_token=old).json()  # response "lost"
        retried = oauth.grant(grant_type="refresh_token", refresh_token=old)
        assert retried.status_code == 200
        _oauth_error(oauth.grant(grant_type="refresh_token", refresh_token=lost["refresh_token"]), 401,
                     "Token has been revoked")
        newest = retried.json()["refresh_token"]
        assert oauth.grant(grant_type="refresh_token", refresh_token=newest).status_code == 200
        _oauth_error(oauth.grant(grant_type="refresh_token", refresh_token=old), 401, "Token has been revoked")
