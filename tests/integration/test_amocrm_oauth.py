"""OAuth over real HTTP: code exchange, encrypted storage, rotation under concurrency, re-authorization."""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from redis import Redis
from sqlalchemy.exc import OperationalError

from bridge.amocrm import (
    AmoCrmClient,
    InvalidGrant,
    OAuthRefresher,
    ReauthRequired,
    TokenProvider,
    TokenResponse,
    TokenStore,
    exchange_code,
    redis_lock_factory,
)
from bridge.amocrm.errors import AmoError
from bridge.amocrm.tokens import NEEDS_REAUTH, fingerprint
from bridge.store.db import Store
from bridge.store.models import OAuthToken
from tests.integration.conftest import REDIS_DB, RUN, Amo

KEY = "test-secret-for-token-encryption-0123456789"
TENANT = f"salon-{RUN}"
CLIENT = {"client_id": "cid", "client_secret": "csecret", "redirect_uri": "https://mw.example.com/oauth/salon/callback"}


@pytest.fixture
def amo(new_account) -> Amo:
    """A fresh sandbox account whose OAuth integration is CLIENT."""
    return new_account(**CLIENT)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    store = Store(url)
    store.migrate()
    store.dispose()
    return url


@pytest.fixture
def tokens(db_url: str) -> Iterator[TokenStore]:
    store = Store(db_url)
    yield TokenStore(store, KEY)
    store.dispose()


def provider_for(fake: Amo, tokens: TokenStore, redis: Redis, timeout=(1.0, 5.0)) -> TokenProvider:
    refresher = OAuthRefresher(
        fake.url, CLIENT["client_id"], CLIENT["client_secret"], CLIENT["redirect_uri"], timeout=timeout
    )
    return TokenProvider(TENANT, tokens, refresher, redis_lock_factory(redis))


def stored_pair(fake: Amo, tokens: TokenStore, expires_in: timedelta) -> tuple[str, str]:
    """The tenant is authorized with a pair the sandbox issued, expiring ``expires_in`` from now."""
    pair = fake.control("tokens", {"action": "pair"})
    access, refresh = pair["access_token"], pair["refresh_token"]
    tokens.save_authorized(TENANT, TokenResponse(access, refresh, datetime.now(UTC) + expires_in))
    return access, refresh


def test_code_exchange_and_encrypted_storage(amo, tokens):
    code = amo.control("tokens", {"action": "code"})["code"]
    pair = exchange_code(amo.url, code=code, **CLIENT)
    assert (pair.access_token, pair.refresh_token) == amo.issued()[-1]
    assert timedelta(hours=23) < pair.expires_at - datetime.now(UTC) <= timedelta(hours=24)
    sent = amo.calls("POST", "/oauth2/access_token")[0].body
    assert sent == {**CLIENT, "grant_type": "authorization_code", "code": code}
    saved = tokens.save_authorized(TENANT, pair)
    assert (saved.access_token, saved.refresh_token, saved.version) == (*amo.issued()[-1], 1)
    with tokens.store.session() as s:
        row = s.get(OAuthToken, TENANT)
        assert pair.access_token.encode() not in row.access_token
        assert pair.refresh_token.encode() not in row.refresh_token
    assert pair.access_token not in repr(pair) and pair.access_token not in repr(saved)
    with pytest.raises(InvalidGrant, match="Authorization code has been revoked"):
        exchange_code(amo.url, code=code, **CLIENT)  # single use
    with pytest.raises(AmoError, match="wrong or rotated key"):
        TokenStore(tokens.store, "another-key-entirely-0123456789").load(TENANT)


def race_worker(db_url: str, url: str, barrier, results) -> None:
    """One worker process with its own engine, Redis connection and provider."""
    store = Store(db_url)
    redis = Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    refresher = OAuthRefresher(url, CLIENT["client_id"], CLIENT["client_secret"], CLIENT["redirect_uri"])
    provider = TokenProvider(TENANT, TokenStore(store, KEY), refresher, redis_lock_factory(redis))
    barrier.wait(timeout=10)
    try:
        token = provider.access_token()
        AmoCrmClient(url, provider).account()
        results.put(("ok", token))
    except Exception as exc:  # reported to the parent, which fails the test
        results.put(("error", repr(exc)))


@pytest.mark.slow
def test_eight_workers_with_an_expired_token_refresh_exactly_once(amo, tokens, redis, db_url):
    """Strict rotation: a second use of the old refresh token would be refused and show up here."""
    fake = amo
    stored_pair(fake, tokens, timedelta(minutes=-1))
    fake.step("POST /oauth2/access_token", delay_seconds=0.3)  # every worker arrives while it is in flight
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    workers = [ctx.Process(target=race_worker, args=(db_url, fake.url, barrier, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    new_access, new_refresh = fake.issued()[-1]
    assert outcomes == [("ok", new_access)] * 8
    assert fake.refresh_calls() == 1
    assert len(fake.calls("POST", "/oauth2/access_token")) == 1
    saved = tokens.load(TENANT)
    assert (saved.access_token, saved.refresh_token, saved.version) == (new_access, new_refresh, 2)


def test_the_new_refresh_token_is_stored_before_the_new_access_token_is_used(amo, tokens, redis):
    fake = amo
    stored_pair(fake, tokens, timedelta(minutes=3))  # inside the 5-minute margin: proactive refresh
    seen: list[tuple[bool, bool]] = []

    def check_store(call) -> None:  # runs in the sandbox as the API call arrives, before it is answered
        if call.path.startswith("/api/"):
            row = tokens.load(TENANT)
            newest = fake.runtime.tokens.issued[-1]["refresh_token"]
            seen.append((row.access_token == call.token, row.refresh_token == newest))

    fake.runtime.journal.listen(check_store)
    AmoCrmClient(fake.url, provider_for(fake, tokens, redis)).account()
    assert fake.refresh_calls() == 1
    assert seen == [(True, True)]
    assert fake.calls("GET", "/api/v4/account")[0].token == fake.issued()[-1][0]


def test_a_token_far_from_expiry_is_not_refreshed(amo, tokens, redis):
    access, _ = stored_pair(amo, tokens, timedelta(minutes=30))
    assert provider_for(amo, tokens, redis).access_token() == access
    assert amo.refresh_calls() == 0


def test_a_401_refreshes_once_and_retries(amo, tokens, redis):
    old_access, _ = stored_pair(amo, tokens, timedelta(hours=20))
    amo.control("tokens", {"action": "expire", "access_token": old_access})  # dead early on the server side
    account = AmoCrmClient(amo.url, provider_for(amo, tokens, redis)).account()
    assert account["subdomain"] == amo.url.rsplit("/", 1)[-1]
    assert amo.refresh_calls() == 1
    assert [h.status for h in amo.calls("GET", "/api/v4/account")] == [401, 200]


def test_refresh_after_401_defaults_to_the_token_last_handed_out(amo, tokens, redis):
    provider = provider_for(amo, tokens, redis)
    old_access, _ = stored_pair(amo, tokens, timedelta(hours=20))
    assert provider.access_token() == old_access
    assert provider.refresh_after_401() == amo.issued()[-1][0] != old_access
    assert amo.refresh_calls() == 1


def test_a_401_after_a_refresh_means_reauthorization(amo, tokens, redis):
    stored_pair(amo, tokens, timedelta(hours=20))
    amo.control("faults", {"reject_tokens": True}, method="PATCH")  # every API call 401, refreshes still work
    with pytest.raises(ReauthRequired, match="reconnect the integration"):
        AmoCrmClient(amo.url, provider_for(amo, tokens, redis)).account()
    assert tokens.load(TENANT).state == NEEDS_REAUTH
    assert len(amo.calls("GET", "/api/v4/account")) == 2
    assert amo.refresh_calls() == 1


def test_a_refused_refresh_marks_needs_reauth_and_stops_calling(amo, tokens, redis):
    _, spent = stored_pair(amo, tokens, timedelta(hours=1))
    rotated = requests.post(f"{amo.url}/oauth2/access_token", timeout=5,
                            json={**CLIENT, "grant_type": "refresh_token", "refresh_token": spent})
    assert rotated.status_code == 200  # someone else used it: it is spent now
    tokens.save_authorized(TENANT, TokenResponse("acc-x", spent, datetime.now(UTC) - timedelta(minutes=1)))
    provider = provider_for(amo, tokens, redis)
    with pytest.raises(ReauthRequired) as caught:
        provider.access_token()
    assert "Token has been revoked" in str(caught.value) and TENANT in str(caught.value)
    assert tokens.load(TENANT).state == NEEDS_REAUTH
    with pytest.raises(ReauthRequired, match="needs_reauth"):
        provider_for(amo, tokens, redis).access_token()
    assert amo.refresh_calls() == 2  # ours above, and the provider's one refused attempt


def test_a_lost_refresh_answer_is_retried_once_with_the_old_token_under_kommo_grace(new_account, tokens, redis):
    """The first refresh rotates on the server but its answer times out; the old token still works once."""
    fake = new_account(**CLIENT, refresh_grace=True)
    stored_pair(fake, tokens, timedelta(minutes=-1))
    fake.step("POST /oauth2/access_token", hang_seconds=0.8)
    provider = provider_for(fake, tokens, redis, timeout=(1.0, 0.3))
    token = provider.access_token()
    assert fake.refresh_calls() == 2
    assert token == fake.issued()[-1][0] and tokens.load(TENANT).refresh_token == fake.issued()[-1][1]
    AmoCrmClient(fake.url, provider).account()


def test_a_lost_refresh_answer_under_strict_rotation_asks_for_reauthorization(amo, tokens, redis):
    fake = amo
    stored_pair(fake, tokens, timedelta(minutes=-1))
    fake.step("POST /oauth2/access_token", hang_seconds=0.8)
    with pytest.raises(ReauthRequired):
        provider_for(fake, tokens, redis, timeout=(1.0, 0.3)).access_token()
    assert tokens.load(TENANT).state == NEEDS_REAUTH


def test_tokens_that_cannot_be_stored_are_never_used(amo, tokens, redis):
    fake = amo

    class FailingRotation(TokenStore):
        def rotate(self, tenant, old_version, tokens):  # the database refuses the write
            raise OperationalError("UPDATE oauth_tokens", {}, Exception("disk I/O error"))

    stored_pair(fake, tokens, timedelta(minutes=-1))
    refresher = OAuthRefresher(fake.url, **CLIENT)
    provider = TokenProvider(TENANT, FailingRotation(tokens.store, KEY), refresher, redis_lock_factory(redis))
    with pytest.raises(ReauthRequired, match="could not be stored"):
        provider.access_token()
    assert tokens.load(TENANT).state == NEEDS_REAUTH


def jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def test_long_lived_tokens_are_never_refreshed(amo, tokens, redis):
    fake = amo
    token = jwt({"exp": 1_700_000_000, "api_domain": "api-b.amocrm.ru"})
    saved = tokens.save_long_lived(TENANT, token)
    assert saved.long_lived and saved.expires_at == datetime.fromtimestamp(1_700_000_000, UTC)
    provider = provider_for(fake, tokens, redis)
    assert provider.access_token() == token  # past its exp, but a long-lived token is used as is
    with pytest.raises(ReauthRequired, match="long-lived"):
        AmoCrmClient(fake.url, provider).account()
    assert fake.refresh_calls() == 0
    assert tokens.load(TENANT).state == NEEDS_REAUTH


def test_tokens_never_reach_the_logs(amo, tokens, redis, caplog):
    old_access, old_refresh = stored_pair(amo, tokens, timedelta(minutes=-1))
    with caplog.at_level(logging.DEBUG):
        AmoCrmClient(amo.url, provider_for(amo, tokens, redis)).account()
    secrets = [old_access, old_refresh, *amo.issued()[-1]]
    assert not [s for s in secrets if s in caplog.text]
    assert fingerprint(amo.issued()[-1][0]) in caplog.text
