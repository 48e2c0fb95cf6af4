"""The client against the full amoCRM emulator (``amocrm_sandbox``): a salon's day end to end,
OAuth through the emulator's token endpoint, its 7 req/s limit, and its "stored, then timed out" fault."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from redis import Redis

from bridge.amocrm import (
    AmoCrmClient,
    OAuthRefresher,
    RedisRateLimiter,
    TokenProvider,
    TokenStore,
    common_note,
    exchange_code,
    make_marker,
    redis_lock_factory,
    service_note,
)
from bridge.amocrm.markers import with_marker
from bridge.amocrm.ratelimit import limiter_key
from bridge.store.db import Store
from tests.fakes.http import serve
from tests.integration.conftest import REDIS_DB, RUN

sandbox = pytest.importorskip("amocrm_sandbox")

TENANT = f"salon-{RUN}"
KEY = "sandbox-test-token-encryption-secret-0123"


@pytest.fixture
def token_store(tmp_path: Path) -> Iterator[TokenStore]:
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.migrate()
    yield TokenStore(store, KEY)
    store.dispose()


def control(url: str, what: str, body: dict | None = None) -> dict:
    """The emulator's test controls: POST with a body, GET without one."""
    if body is None:
        response = requests.get(f"{url}/_sandbox/{what}", timeout=5)
    else:
        response = requests.post(f"{url}/_sandbox/{what}", json=body, timeout=5)
    response.raise_for_status()
    return response.json()


def connect(url: str, token_store: TokenStore, redis: Redis, **client_options) -> AmoCrmClient:
    """What `salonbridge` does for a tenant: code → tokens (stored encrypted) → provider → client."""
    creds = control(url, "tokens", {"action": "code"})
    oauth = (creds["client_id"], creds["client_secret"])
    token_store.save_authorized(TENANT, exchange_code(url, *oauth, creds["code"], creds["redirect_uri"]))
    refresher = OAuthRefresher(url, *oauth, creds["redirect_uri"])
    provider = TokenProvider(TENANT, token_store, refresher, redis_lock_factory(redis))
    return AmoCrmClient(url, provider, backoff_base_s=0.05, **client_options)


def test_a_salon_day_end_to_end(token_store, redis):
    app = sandbox.create_sandbox_app(None, requests_per_second=1000, block_after_429s=None)
    with serve(app) as url:
        client = connect(url, token_store, redis)
        assert client.account(with_="task_types")["subdomain"] == "sandbox"
        assert len(client.list_users()) == 2
        for entity in ("contacts", "leads"):
            client.ensure_marker_field(entity)
        master = client.create_custom_fields(
            "leads", [{"name": "Master", "type": "select", "enums": [{"value": "Olga", "sort": 1}]}]
        )[0]
        assert [e["value"] for e in master["enums"]] == ["Olga"]
        stages = [{"name": "First booking", "sort": 10, "color": "#fffeb2"}, {"name": "Visited", "sort": 20}]
        pipeline = client.create_pipeline("Sales", stages)
        client.update_pipeline(pipeline["id"], {"name": "Sales (salon)"})
        first = next(s for s in client.list_statuses(pipeline["id"]) if s["name"] == "First booking")
        client.update_status(pipeline["id"], first["id"], {"name": "Booked"})
        added = client.create_statuses(pipeline["id"], [{"name": "Reminder due", "sort": 30}])
        assert added[0]["name"] == "Reminder due"
        assert "Sales (salon)" in [p["name"] for p in client.list_pipelines()]

        assert client.find_contacts("+79161234567") == []
        phone = [{"field_code": "PHONE", "values": [{"value": "+79161234567", "enum_code": "MOB"}]}]
        [contact] = client.create_contacts([{"name": "Anna", "custom_fields_values": phone}])
        assert [c["id"] for c in client.find_contacts("89161234567")] == [contact["id"]]
        client.update_contacts([{"id": contact["id"], "first_name": "Anna"}])

        lead_body = {"name": "Manicure 12.03", "price": 900, "pipeline_id": pipeline["id"], "status_id": first["id"]}
        [lead] = client.create_leads([lead_body])
        client.link("leads", lead["id"], [{"to_entity_id": contact["id"], "to_entity_type": "contacts"}])
        client.update_leads([{"id": lead["id"], "pipeline_id": pipeline["id"], "status_id": 142}])
        assert client.get_lead(lead["id"])["status_id"] == 142
        won = client.list_leads({"statuses": [{"pipeline_id": pipeline["id"], "status_id": 142}]})
        assert [x["id"] for x in won] == [lead["id"]]

        due = int(datetime.now(UTC).timestamp()) + 86_400
        task_body = {"text": "Invite Anna again", "complete_till": due, "entity_type": "leads", "entity_id": lead["id"]}
        [task] = client.create_tasks([with_marker("tasks", task_body, make_marker(3), None)])
        assert client.find_by_marker("tasks", make_marker(3), entity_type="leads", entity_id=lead["id"]) is not None
        client.update_tasks([{"id": task["id"], "complete_till": due + 3600}])
        client.complete_task(task["id"], "Booked for Friday")
        assert client.list_tasks("leads", [lead["id"]], is_completed=False) == []
        assert [t["id"] for t in client.list_tasks("leads", [lead["id"]], is_completed=True)] == [task["id"]]

        notes = client.add_notes("leads", [common_note(lead["id"], "Moved to 15:00"), service_note(lead["id"], "Sent")])
        assert len(notes) == 2
        hook = "https://mw.example.com/hooks/salon/amocrm/s3cret"
        client.subscribe_webhook(hook, ["status_lead", "update_task"])
        assert [w["destination"] for w in client.list_webhooks()] == [hook]
        assert client.unsubscribe_webhook(hook) is True
        assert client.run_salesbot(565, lead["id"], "leads") is True
        assert control(url, "stats")["rate_limited_429"] == 0


def test_an_expired_access_token_is_refreshed_through_the_emulator(token_store, redis):
    app = sandbox.create_sandbox_app(None, requests_per_second=1000, block_after_429s=None)
    with serve(app) as url:
        client = connect(url, token_store, redis)
        before = token_store.load(TENANT)
        control(url, "tokens", {"action": "expire"})
        assert client.list_users()
        after = token_store.load(TENANT)
        assert after.version == before.version + 1 and after.refresh_token != before.refresh_token


def sandbox_burst(url: str, access_token: str, requests_each: int, start_at: float) -> None:
    from bridge.amocrm import StaticTokenProvider

    limiter = RedisRateLimiter(Redis(host="127.0.0.1", port=6379, db=REDIS_DB), limiter_key(url))
    client = AmoCrmClient(url, StaticTokenProvider(access_token), limiter=limiter, max_retries=0)
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(requests_each):
        client.account()


@pytest.mark.slow
def test_three_processes_never_trip_the_emulators_limit(redis):
    app = sandbox.create_sandbox_app(None)  # 7 req/s, 20 refusals → 403 block, like amoCRM
    with serve(app) as url:
        token = control(url, "tokens", {"action": "pair"})["access_token"]
        ctx = multiprocessing.get_context("fork")
        start_at = time.time() + 0.3
        workers = [ctx.Process(target=sandbox_burst, args=(url, token, 5, start_at)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=20)
        stats = control(url, "stats")
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert stats["total_requests"] == 15 and stats["rate_limited_429"] == 0
    assert stats["max_requests_in_1s"] <= 7
