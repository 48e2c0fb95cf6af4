"""YclientsClient against a real HTTP server (tests/fakes/yclients.py) on a loopback socket."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.booking.yclients import (
    ServiceInfo,
    YclientsClient,
    YclientsError,
    YclientsRateLimited,
    normalize_record,
    record_as_webhook,
)
from config.tenants import TenantSchema
from pipelines.events import BookingStatus
from tests.fakes.http import serve
from tests.fakes.yclients import PARTNER_TOKEN, USER_TOKEN, FakeYclients

COMPANY = "111111"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeYclients, str]]:
    """One server for the module (stopping one costs the server's 0.5 s poll interval)."""
    fake = FakeYclients()
    with serve(fake.app) as base_url:
        yield fake, base_url + "/api/v1"


@pytest.fixture
def fake(served: tuple[FakeYclients, str]) -> FakeYclients:
    served[0].reset()
    return served[0]


@pytest.fixture
def api_url(fake: FakeYclients, served: tuple[FakeYclients, str]) -> str:
    return served[1]


@pytest.fixture
def client(api_url: str) -> Iterator[YclientsClient]:
    c = YclientsClient(api_url, PARTNER_TOKEN, USER_TOKEN, timeout=(1, 5))
    yield c
    c.close()


def record(record_id: int, changed: str, *, deleted: bool = False, attendance: int = 0) -> dict[str, Any]:
    return {
        "id": record_id,
        "staff_id": 2222,
        "services": [{"id": 3333, "title": "Манікюр", "cost": 650, "amount": 1}],
        "client": {"id": 777, "name": "Ольга", "phone": "+380671234567"},
        "date": "2026-12-01 12:00:00",
        "datetime": "2026-12-01T12:00:00+02:00",
        "create_date": "2026-11-20T10:15:00+0200",
        "last_change_date": changed,
        "attendance": attendance,
        "deleted": deleted,
        "online": True,
        "seance_length": 3600,
    }


def test_sends_partner_and_user_tokens_and_the_v2_accept_header(fake: FakeYclients, client: YclientsClient) -> None:
    client.services(COMPANY)
    headers = fake.requests[-1]["headers"]
    assert headers["Authorization"] == f"Bearer {PARTNER_TOKEN}, User {USER_TOKEN}"
    assert headers["Accept"] == "application/vnd.api.v2+json"


def test_catalog_joins_services_with_category_titles(fake: FakeYclients, client: YclientsClient) -> None:
    fake.add_category(COMPANY, 90, "Манікюр")
    fake.add_category(COMPANY, 91, "Педикюр")
    fake.add_service(COMPANY, 3333, "Манікюр + гель-лак", 90)
    fake.add_service(COMPANY, 4444, "Педикюр", 91)
    fake.add_service(COMPANY, 5555, "Без категорії", None)
    assert client.categories(COMPANY) == {"90": "Манікюр", "91": "Педикюр"}
    assert client.services(COMPANY)[0] == ServiceInfo("3333", "Манікюр + гель-лак", "90")
    assert client.catalog(COMPANY) == [
        ServiceInfo("3333", "Манікюр + гель-лак", "90", "Манікюр"),
        ServiceInfo("4444", "Педикюр", "91", "Педикюр"),
        ServiceInfo("5555", "Без категорії", None, None),
    ]
    assert [r["path"] for r in fake.requests[-2:]] == [
        f"/api/v1/company/{COMPANY}/service_categories",
        f"/api/v1/company/{COMPANY}/services",
    ]


def test_records_are_paged_until_total_count(fake: FakeYclients, client: YclientsClient) -> None:
    for i in range(250):
        fake.add_record(COMPANY, record(500000000 + i, "2026-12-01T10:00:00+0200"))
    since = datetime(2026, 12, 1, 9, 0)
    ids = [r["id"] for r in client.records_changed_since(COMPANY, since)]
    assert ids == [500000000 + i for i in range(250)]
    pages = [r["args"] for r in fake.requests]
    assert [p["page"] for p in pages] == ["1", "2", "3"]
    assert pages[0] == {"changed_after": "2026-12-01T09:00:00", "with_deleted": "1", "include_consumables": "1",
                        "count": "100", "page": "1"}


def test_exact_multiple_of_count_stops_on_total_count(fake: FakeYclients, client: YclientsClient) -> None:
    for i in range(20):
        fake.add_record(COMPANY, record(i + 1, "2026-12-01T10:00:00+0200"))
    assert len(list(client.records_changed_since(COMPANY, datetime(2026, 1, 1), count=10))) == 20
    assert len(fake.requests) == 2


def test_empty_feed_is_one_request(fake: FakeYclients, client: YclientsClient) -> None:
    assert list(client.records_changed_since(COMPANY, datetime(2026, 1, 1))) == []
    assert len(fake.requests) == 1


def test_changed_after_filters_and_deleted_records_are_included(fake: FakeYclients, client: YclientsClient) -> None:
    fake.add_record(COMPANY, record(1, "2026-12-01T08:59:59+0200"))
    fake.add_record(COMPANY, record(2, "2026-12-01T09:00:01+0200"))
    fake.add_record(COMPANY, record(3, "2026-12-01T11:00:00+0200", deleted=True))
    got = list(client.records_changed_since(COMPANY, datetime(2026, 12, 1, 9, 0)))
    assert [(r["id"], r["deleted"]) for r in got] == [(2, False), (3, True)]


def test_aware_since_is_sent_as_the_location_wall_time(fake: FakeYclients, client: YclientsClient) -> None:
    since = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    list(client.records_changed_since(COMPANY, since, tz=ZoneInfo("Europe/Kyiv")))
    assert fake.requests[-1]["args"]["changed_after"] == "2026-12-01T09:00:00"


def test_polled_records_normalize_like_webhooks(fake: FakeYclients, client: YclientsClient) -> None:
    tenant = TenantSchema().load(
        {
            "slug": "salon",
            "name": "Salon",
            "timezone": "Europe/Kyiv",
            "country": "UA",
            "branches": [{"id": COMPANY, "name": "Центр"}],
            "booking": {"source": "yclients", "webhook_token_env": "SALON_HOOK_TOKEN"},
            "amocrm": {"base_url": "https://salon.amocrm.ru"},
        }
    )
    fake.add_record(COMPANY, record(1, "2026-12-01T13:40:12+0200", attendance=1))
    fake.add_record(COMPANY, record(2, "2026-12-01T13:41:00+0200", deleted=True, attendance=1))
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    polled = [record_as_webhook(r) for r in client.records_changed_since(COMPANY, datetime(2026, 12, 1))]
    events = [normalize_record(body, tenant, now) for body in polled]
    assert [e.booking.status for e in events] == [BookingStatus.COMPLETED, BookingStatus.CANCELLED]
    assert [e.source_event for e in events] == ["record:update", "record:delete"]
    live = {"company_id": int(COMPANY), "resource": "record", "resource_id": 1, "status": "update"}
    live["data"] = fake.records[COMPANY][0]
    assert normalize_record(live, tenant, now).dedupe_key == events[0].dedupe_key
    assert YclientsClient.record_as_webhook(fake.records[COMPANY][0]) == polled[0]


def test_wrong_token_is_a_401_with_the_api_message(api_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad = YclientsClient(api_url, PARTNER_TOKEN, "wrong-user-token")
    with pytest.raises(YclientsError) as info:
        bad.services(COMPANY)
    assert (info.value.status, info.value.message) == (401, "Authentication needed.")
    assert not info.value.retryable
    for text in (str(info.value), repr(bad), caplog.text):
        assert PARTNER_TOKEN not in text and "wrong-user-token" not in text


def test_tokens_never_reach_the_logs(fake: FakeYclients, client: YclientsClient, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_record(COMPANY, record(1, "2026-12-01T10:00:00+0200"))
    list(client.records_changed_since(COMPANY, datetime(2026, 1, 1)))
    client.catalog(COMPANY)
    assert "yclients GET" in caplog.text
    assert PARTNER_TOKEN not in caplog.text and USER_TOKEN not in caplog.text
    assert PARTNER_TOKEN not in repr(client) and USER_TOKEN not in repr(client)


def test_429_raises_rate_limited_with_retry_after(fake: FakeYclients, client: YclientsClient) -> None:
    fake.fail_next(429, retry_after="7", message="Too many requests")
    with pytest.raises(YclientsRateLimited) as info:
        client.categories(COMPANY)
    assert (info.value.status, info.value.retry_after, info.value.message) == (429, 7.0, "Too many requests")
    assert info.value.retryable
    assert client.categories(COMPANY) == {}  # the next call goes through


def test_429_without_retry_after_uses_the_default(fake: FakeYclients, client: YclientsClient) -> None:
    fake.fail_next(429)
    with pytest.raises(YclientsRateLimited) as info:
        client.services(COMPANY)
    assert info.value.retry_after == YclientsClient.DEFAULT_RETRY_AFTER


def test_500_mid_paging_raises_a_retryable_error(fake: FakeYclients, client: YclientsClient) -> None:
    for i in range(15):
        fake.add_record(COMPANY, record(i + 1, "2026-12-01T10:00:00+0200"))
    feed = client.records_changed_since(COMPANY, datetime(2026, 1, 1), count=10)
    first_page = [next(feed) for _ in range(10)]
    fake.fail_next(500, message="Internal error")
    with pytest.raises(YclientsError) as info:
        next(feed)
    assert len(first_page) == 10
    assert (info.value.status, info.value.message, info.value.retryable) == (500, "Internal error", True)


def test_unsuccessful_envelope_is_an_error(fake: FakeYclients, client: YclientsClient) -> None:
    fake.fail_next(200, message="Access denied.")
    with pytest.raises(YclientsError) as info:
        client.services(COMPANY)
    assert (info.value.status, info.value.message) == (200, "Access denied.")


def test_connection_refused_is_a_retryable_error_without_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = YclientsClient(f"http://127.0.0.1:{port}/api/v1", PARTNER_TOKEN, USER_TOKEN, timeout=(1, 1))
    with pytest.raises(YclientsError) as info:
        client.services(COMPANY)
    assert info.value.status is None and info.value.retryable
    assert PARTNER_TOKEN not in str(info.value)
