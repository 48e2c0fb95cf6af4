"""The webhook endpoint over real HTTP: durable before 2xx, clear refusals, nothing stored on a refusal."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from bridge.queue import JobQueue, connect
from bridge.store.models import InboundEvent, OutboxRow
from jobs.clock import sweep_outbox
from tests.conftest import TOKEN
from tests.fakes.http import serve
from tests.helpers import yclients_record
from webhooks.app import create_app


@pytest.fixture
def base_url(services):
    with serve(create_app(services=services)) as url:
        yield url


def stored(services) -> tuple[int, int]:
    with services.store.session() as s:
        return s.scalar(select(func.count()).select_from(InboundEvent)), s.scalar(
            select(func.count()).select_from(OutboxRow)
        )


def hook(base_url: str, source: str = "yclients", token: str = TOKEN, tenant: str = "salon") -> str:
    return f"{base_url}/hooks/{tenant}/{source}/{token}"


def test_a_delivery_is_stored_with_its_outbox_row_and_queued(base_url, services):
    response = requests.post(hook(base_url), json=yclients_record(), timeout=5)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted" and body["queued"] is True
    assert stored(services) == (1, 1)
    assert services.queue.depth() == 1


def test_three_identical_deliveries_make_one_event_and_one_job(base_url, services):
    answers = [requests.post(hook(base_url), json=yclients_record(), timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 200, 200]
    assert {a.json()["event_id"] for a in answers} == {answers[0].json()["event_id"]}
    assert [a.json()["status"] for a in answers[1:]] == ["duplicate", "duplicate"]
    assert stored(services) == (1, 1)
    assert services.queue.depth() == 1


@pytest.mark.parametrize(
    ("tenant", "source", "token"),
    [("nobody", "yclients", TOKEN), ("salon", "yclients", "wrong-token"), ("salon", "square", TOKEN)],
)
def test_unknown_tenant_wrong_token_or_source_get_the_same_404(base_url, services, tenant, source, token):
    response = requests.post(hook(base_url, source, token, tenant), json=yclients_record(), timeout=5)
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}
    assert stored(services) == (0, 0)


def test_malformed_json_is_400_with_a_reason(base_url, services):
    response = requests.post(
        hook(base_url), data=b'{"company_id": 1,', headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert stored(services) == (0, 0)


def test_wrong_content_type_is_415(base_url, services):
    response = requests.post(hook(base_url), data=json.dumps(yclients_record()), timeout=5,
                             headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert stored(services) == (0, 0)


def test_a_body_over_one_megabyte_is_413(base_url, services):
    big = yclients_record()
    big["data"]["comment"] = "x" * (1024 * 1024)
    response = requests.post(hook(base_url), json=big, timeout=10)
    assert response.status_code == 413
    assert stored(services) == (0, 0)


def test_schema_violation_is_422_naming_the_fields(base_url, services):
    bad = yclients_record()
    del bad["data"]["id"]
    bad["data"].pop("date")
    bad["data"].pop("datetime")
    response = requests.post(hook(base_url), json=bad, timeout=5)
    assert response.status_code == 422
    fields = json.dumps(response.json()["fields"])
    assert "id" in fields and "date" in fields
    assert stored(services) == (0, 0)


def test_generic_events_are_accepted_too(base_url, services):
    event = {
        "event_id": "crm-42",
        "occurred_at": "2026-03-01T10:00:00+02:00",
        "booking": {
            "id": "B-1",
            "status": "scheduled",
            "start_at": "2026-03-05T12:00:00+02:00",
            "services": [{"id": "S1", "title": "Педикюр", "category": "Педикюр"}],
        },
        "client": {"name": "Ольга", "phone": "+380671234567"},
    }
    assert requests.post(hook(base_url, "generic"), json=event, timeout=5).status_code == 202
    assert requests.post(hook(base_url, "generic"), json=event, timeout=5).json()["status"] == "duplicate"
    assert stored(services) == (1, 1)


def test_database_down_is_503_with_retry_after(base_url, services):
    services.store = type(services.store)("postgresql+psycopg://nobody@127.0.0.1:9/none")  # nothing listens
    response = requests.post(hook(base_url), json=yclients_record(), timeout=10)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_redis_down_after_commit_still_acknowledges_and_the_sweeper_queues_later(base_url, services):
    real_queue = services.queue
    services.queue = JobQueue(connect("redis://127.0.0.1:9/0"), real_queue.name)  # nothing listens there
    response = requests.post(hook(base_url), json=yclients_record(), timeout=10)
    assert response.status_code == 202 and response.json()["queued"] is False
    assert stored(services) == (1, 1)
    services.queue = real_queue
    time.sleep(1.1)  # the sweeper only takes rows older than SALONBRIDGE_SWEEP_AFTER_S (1 s in tests)
    assert sweep_outbox(services, datetime.now(UTC)) == 1
    assert services.queue.depth() == 1
    assert sweep_outbox(services, datetime.now(UTC)) == 0  # queued once, not again


def test_events_queued_before_redis_lost_its_data_are_queued_again_at_the_next_sweep(base_url, services):
    for n in range(3):
        assert requests.post(hook(base_url), json=yclients_record(record_id=900 + n), timeout=10).status_code == 202
    time.sleep(1.1)
    sweep_outbox(services, datetime.now(UTC))  # the sweeper offers them (and records them as queued)
    services.queue.connection.flushdb()  # Redis restarted without its data: the jobs are gone
    assert services.queue.depth() == 0
    assert sweep_outbox(services, datetime.now(UTC)) == 3  # not twelve minutes later
    assert services.queue.depth() == 3
    assert sweep_outbox(services, datetime.now(UTC)) == 0


def test_health_and_metrics(base_url, services):
    assert requests.get(f"{base_url}/healthz", timeout=5).json() == {"status": "ok", "database": "ok", "redis": "ok"}
    requests.post(hook(base_url), json=yclients_record(), timeout=5)
    requests.post(hook(base_url), json=yclients_record(), timeout=5)
    requests.post(hook(base_url, token="nope"), json=yclients_record(), timeout=5)
    text = requests.get(f"{base_url}/metrics", timeout=5).text
    assert 'salonbridge_events_received_total{tenant="salon"} 1.0' in text
    assert 'salonbridge_events_duplicate_total{tenant="salon"} 1.0' in text
    assert 'salonbridge_events_rejected_total{status="404",tenant="salon"} 1.0' in text
    assert "salonbridge_queue_depth 1.0" in text
    assert 'salonbridge_events{status="received",tenant="salon"} 1.0' in text


def test_openapi_document_describes_the_hook_and_the_generic_schema(base_url):
    doc = requests.get(f"{base_url}/api/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.1")
    assert "/hooks/{tenant}/{source}/{token}" in doc["paths"]
    assert "booking" in doc["components"]["schemas"]["GenericEvent"]["properties"]
