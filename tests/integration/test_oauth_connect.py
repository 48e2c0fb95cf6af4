"""Connecting a salon: the OAuth link, our callback over real HTTP exchanging a sandbox code, long-lived
tokens, and ``salonbridge amocrm status`` (connected, revoked, never connected)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner

from bridge.amocrm.connect import client_for, sign_state, token_store, verify_state
from bridge.amocrm.errors import ReauthRequired
from bridge.amocrm.tokens import NEEDS_REAUTH
from salonbridge.cli import main
from tests.fakes.http import serve
from tests.integration import test_setup as shared
from tests.integration.test_setup import CLIENT_ID, CLIENT_SECRET, Sandbox
from webhooks.app import create_app

sandbox, salon = shared.sandbox, shared.salon  # fixtures


def cli(settings, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=settings.to_env(), catch_exceptions=False)


@pytest.fixture
def web(salon) -> Iterator[str]:
    """Our web app on a real socket (its callback calls the sandbox's token endpoint over HTTP)."""
    with serve(create_app(services=salon)) as url:
        yield url


def consent_link(settings) -> str:
    result = cli(settings, "amocrm", "connect", "salon")
    assert result.exit_code == 0, result.output
    return next(word for word in result.output.split() if "/oauth?" in word)


def authorize(sandbox: Sandbox, web: str, link: str) -> requests.Response:
    """What the admin's browser does: the sandbox's consent screen approves at once and redirects to our
    redirect URI (public_url); the same path and query are sent to the app we are serving."""
    consent = requests.get(link, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    target = urlsplit(consent.headers["Location"])
    assert target.path == "/oauth/salon/callback"
    return requests.get(f"{web}{target.path}?{target.query}", timeout=10)


def callback(web: str, **query: str) -> requests.Response:
    return requests.get(f"{web}/oauth/salon/callback", params=query, timeout=10)


def test_connect_prints_the_consent_link_with_client_id_and_a_signed_state(salon, sandbox, settings):
    result = cli(settings, "amocrm", "connect", "salon")

    assert result.exit_code == 0, result.output
    link = next(word for word in result.output.split() if "/oauth?" in word)
    assert link.startswith(f"{sandbox.url}/oauth?")
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == [CLIENT_ID]
    assert verify_state(settings.secret_key, "salon", query["state"][0])
    assert not verify_state(settings.secret_key, "other-salon", query["state"][0])
    assert f"{settings.public_url}/oauth/salon/callback" in result.output
    assert CLIENT_SECRET not in result.output


def test_the_callback_exchanges_the_code_and_stores_the_tokens_encrypted(salon, sandbox, web, settings):
    page = authorize(sandbox, web, consent_link(settings))

    assert page.status_code == 200 and "<h1 class=\"ok\">Підключено</h1>" in page.text  # the salon's language
    assert "Test Salon" in page.text and "три воронки" in page.text  # what the admin will see next
    assert "salonbridge" not in page.text.split("<body>")[1]  # no command for an amoCRM admin to run
    assert page.headers["Content-Type"].startswith("text/html")
    stored = token_store(salon).load("salon")
    assert stored is not None and not stored.long_lived and stored.state == "ok"
    with salon.store.session() as s:
        raw = s.execute(__import__("sqlalchemy").text("SELECT access_token FROM oauth_tokens")).scalar_one()
    assert stored.access_token.encode() not in bytes(raw)  # encrypted at rest
    assert client_for(salon.tenants["salon"], salon).account()["name"] == "Sandbox salon"

    status = cli(settings, "amocrm", "status")
    assert status.exit_code == 0, status.output
    assert "salon: connected · OAuth" in status.output and "«Sandbox salon»" in status.output
    assert stored.access_token not in status.output and stored.refresh_token not in status.output


@pytest.mark.parametrize("case", ["tampered", "other tenant", "expired", "missing"])
def test_a_bad_or_expired_state_is_refused_with_403_and_nothing_is_stored(salon, sandbox, web, settings, case):
    code = sandbox.control("tokens", action="code")["code"]
    state = {
        "tampered": sign_state(settings.secret_key, "salon")[:-2] + "xx",
        "other tenant": sign_state(settings.secret_key, "other"),
        "expired": sign_state(settings.secret_key, "salon", now=time.time() - 3600),
        "missing": "",
    }[case]

    page = callback(web, code=code, state=state, referer=urlsplit(sandbox.url).netloc)

    assert page.status_code == 403 and "нове посилання" in page.text  # what to do, in the salon's language
    assert token_store(salon).load("salon") is None


def test_refusals_and_a_foreign_referer_do_not_connect(salon, sandbox, web, settings):
    state = sign_state(settings.secret_key, "salon")
    code = sandbox.control("tokens", action="code")["code"]

    denied = callback(web, error="access_denied", state=state)
    foreign = callback(web, code=code, state=state, referer="evil.amocrm.ru")
    bogus = callback(web, code="def50200bogus", state=state, referer=urlsplit(sandbox.url).netloc)

    assert denied.status_code == 400 and "Доступ в amoCRM не надано" in denied.text
    assert foreign.status_code == 400 and "evil.amocrm.ru" in foreign.text
    assert bogus.status_code == 400 and "Cannot decrypt the authorization code" in bogus.text
    assert token_store(salon).load("salon") is None


def test_status_says_needs_reauth_after_the_integration_was_revoked(salon, sandbox, web, settings):
    assert authorize(sandbox, web, consent_link(settings)).status_code == 200
    sandbox.control("tokens", action="revoke")  # an admin switched the integration off

    result = cli(settings, "amocrm", "status", "salon")

    assert result.exit_code == 1
    assert "salon: needs_reauth" in result.output
    assert "Token has been revoked" in result.output and "salonbridge amocrm connect salon" in result.output
    assert token_store(salon).load("salon").state == NEEDS_REAUTH
    with pytest.raises(ReauthRequired):
        client_for(salon.tenants["salon"], salon)


def test_status_of_a_tenant_never_connected(salon, sandbox, settings):
    result = cli(settings, "amocrm", "status")

    assert result.exit_code == 1
    assert "salon: not connected · run `salonbridge amocrm connect salon`" in result.output


def test_a_long_lived_token_is_checked_then_stored(salon, sandbox, settings, monkeypatch):
    token = sandbox.mint("long_lived", expires_in=30 * 86400)
    monkeypatch.setenv("SALON_AMO_LL", token)

    result = cli(settings, "amocrm", "connect", "salon", "--token-env", "SALON_AMO_LL")

    assert result.exit_code == 0, result.output
    assert "connected to amoCRM account «Sandbox salon» with a long-lived token" in result.output
    assert token not in result.output
    stored = token_store(salon).load("salon")
    assert stored.long_lived and stored.access_token == token
    status = cli(settings, "amocrm", "status")
    assert "salon: connected · long-lived token (stored), expires" in status.output and "(in 29 d" in status.output


def test_a_wrong_long_lived_token_is_refused_and_not_stored(salon, sandbox, settings, monkeypatch):
    monkeypatch.setenv("SALON_AMO_LL", "not-a-real-token")

    result = cli(settings, "amocrm", "connect", "salon", "--token-env", "SALON_AMO_LL")

    assert result.exit_code == 1
    assert "amoCRM refused the token in $SALON_AMO_LL" in result.output and "nothing was stored" in result.output
    assert token_store(salon).load("salon") is None


def test_status_names_a_refused_token_from_the_environment(salon, sandbox, settings, monkeypatch):
    tenant_file = settings.tenants_dir / "salon.yaml"
    text = tenant_file.read_text(encoding="utf-8")
    tenant_file.write_text(text.replace("  client_id_env:", "  long_lived_token_env: SALON_AMO_LL\n  client_id_env:"),
                           encoding="utf-8")
    monkeypatch.setenv("SALON_AMO_LL", "revoked-or-wrong-token")

    result = cli(settings, "amocrm", "status")

    assert result.exit_code == 1
    assert "salon: needs_reauth · long-lived token from $SALON_AMO_LL" in result.output
    assert "the fixed token was refused" in result.output
    assert "revoked-or-wrong-token" not in result.output


def test_connect_with_a_code_copied_from_amocrm_needs_no_browser(salon, sandbox, settings):
    code = sandbox.control("tokens", action="code")["code"]

    result = cli(settings, "amocrm", "connect", "salon", "--code", code)

    assert result.exit_code == 0, result.output
    assert "connected to amoCRM by authorization code" in result.output and "salonbridge setup salon" in result.output
    stored = token_store(salon).load("salon")
    assert stored is not None and not stored.long_lived and stored.state == "ok"
    assert client_for(salon.tenants["salon"], salon).account()["id"]  # the stored token works


def test_a_code_amocrm_refuses_is_explained_and_nothing_is_stored(salon, sandbox, settings):
    result = cli(settings, "amocrm", "connect", "salon", "--code", "def50200-not-a-code")

    assert result.exit_code == 1
    assert "refused the code" in result.output and "/oauth/salon/callback" in result.output
    assert token_store(salon).load("salon") is None


def test_an_unknown_salons_page_speaks_the_browsers_language(salon, web):
    page = requests.get(f"{web}/oauth/nobody/callback", headers={"Accept-Language": "ru-RU,ru;q=0.9"}, timeout=10)
    assert page.status_code == 404 and "Салон не найден" in page.text and '<html lang="ru">' in page.text
    english = requests.get(f"{web}/oauth/nobody/callback", timeout=10)
    assert "Unknown salon" in english.text
