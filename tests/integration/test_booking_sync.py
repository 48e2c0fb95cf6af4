"""Catch-up polling and the service catalog against a fake YCLIENTS over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bridge.services import Services
from bridge.store import stats
from bridge.store.models import Visit
from jobs.booking_sync import catch_up
from jobs.worker import run_worker
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve
from tests.fakes.yclients import PARTNER_TOKEN, USER_TOKEN, FakeYclients
from tests.helpers import yclients_record


@pytest.fixture
def yclients(settings, monkeypatch):
    fake = FakeYclients()
    with serve(fake.app) as base_url:
        text = TENANT_YAML.replace(
            "  webhook_token_env: SALON_TEST_WEBHOOK_TOKEN\n",
            "  webhook_token_env: SALON_TEST_WEBHOOK_TOKEN\n"
            f"  api_url: {base_url}/api/v1\n  partner_token_env: YC_PARTNER\n  user_token_env: YC_USER\n"
            "  poll_interval_s: 60\n",
        )
        (settings.tenants_dir / "salon.yaml").write_text(text, encoding="utf-8")
        monkeypatch.setenv("YC_PARTNER", PARTNER_TOKEN)
        monkeypatch.setenv("YC_USER", USER_TOKEN)
        yield fake


@pytest.fixture
def synced(yclients, settings):
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()


def test_a_missed_webhook_is_recovered_by_polling_and_deduplicated_after(yclients, synced):
    yclients.add_category(111111, 90, "Брови")
    yclients.add_service(111111, 5555, "Корекція брів", 90)
    record = yclients_record(501, status="update", attendance=1, service_id=5555,
                             changed=(datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S%z"))
    yclients.add_record(111111, record["data"])
    now = datetime.now(UTC)
    assert catch_up(synced, now) == 1
    assert catch_up(synced, now + timedelta(seconds=10)) == 0  # not due yet: no second poll
    assert len([r for r in yclients.requests if "/records/" in r["path"]]) == 2  # one per branch
    assert catch_up(synced, now + timedelta(minutes=2)) == 0  # polled again, same snapshot: a duplicate
    run_worker(synced, burst=True)
    with synced.store.session() as s:
        visit = s.scalar(select(Visit).options(selectinload(Visit.services)))
        assert visit.status == "completed"
        assert [line.category for line in visit.services] == ["Брови"]  # from the YCLIENTS catalog
    assert stats.events_by_status(synced.store) == {"done": 1}


def test_an_unknown_service_is_looked_up_in_the_catalog_when_the_event_is_processed(yclients, synced):
    from bridge import intake

    yclients.add_category(111111, 77, "Вії")
    yclients.add_service(111111, 6666, "Нарощування вій", 77)
    body = yclients_record(502, service_id=6666)
    intake.receive(synced.store, synced.queue, synced.tenants["salon"], "yclients", body, datetime.now(UTC))
    run_worker(synced, burst=True)
    with synced.store.session() as s:
        assert [line.category for line in s.scalar(select(Visit).options(selectinload(Visit.services))).services] == [
            "Вії"
        ]


def test_a_failing_booking_api_keeps_the_watermark_for_the_next_tick(yclients, synced):
    yclients.fail_next(500, times=10)
    now = datetime.now(UTC)
    assert catch_up(synced, now) == 0
    yclients.faults.clear()
    changed = now.strftime("%Y-%m-%dT%H:%M:%S%z")
    yclients.add_record(111111, yclients_record(503, changed=changed)["data"])
    assert catch_up(synced, now + timedelta(seconds=5)) == 1  # not skipped: the failed poll did not count


def _categories(svc: Services) -> dict[str, list[str | None]]:
    with svc.store.session() as s:
        visits = s.scalars(select(Visit).options(selectinload(Visit.services)))
        return {v.external_id: [line.category for line in v.services] for v in visits}


def _catalog_fetches(fake: FakeYclients) -> list[str]:
    return [r["path"] for r in fake.requests if r["path"].endswith("/services")]


def test_each_branch_has_its_own_catalog(yclients, synced):
    """A service known only at the second branch is categorised at once, not after the first branch's cache ages."""
    from bridge import intake

    yclients.add_category(111111, 77, "Вії")
    yclients.add_service(111111, 6666, "Нарощування вій", 77)
    yclients.add_category(111112, 90, "Брови")
    yclients.add_service(111112, 5555, "Корекція брів", 90)
    tenant = synced.tenants["salon"]
    first = yclients_record(601, service_id=6666)
    intake.receive(synced.store, synced.queue, tenant, "yclients", first, datetime.now(UTC))
    run_worker(synced, burst=True)
    second = yclients_record(602, service_id=5555, company_id=111112)
    intake.receive(synced.store, synced.queue, tenant, "yclients", second, datetime.now(UTC))
    run_worker(synced, burst=True)
    assert _categories(synced) == {"601": ["Вії"], "602": ["Брови"]}
    assert _catalog_fetches(yclients) == ["/api/v1/company/111111/services", "/api/v1/company/111112/services"]


def test_a_branch_catalog_is_fetched_again_on_a_miss_at_most_once_a_minute(yclients, synced):
    from jobs.catalog import match_services
    from pipelines.events import VisitEvent

    tenant = synced.tenants["salon"]
    yclients.add_category(111111, 77, "Вії")
    yclients.add_service(111111, 6666, "Нарощування вій", 77)

    def event(service_id: int) -> VisitEvent:
        from bridge.intake import normalize

        record = yclients_record(700 + service_id, service_id=service_id)
        record["data"]["services"][0]["title"] = "Процедура"  # no category name in it
        return normalize("yclients", record, tenant, t0)

    t0 = datetime.now(UTC)
    [(line, match)] = match_services(synced, tenant, event(6666), t0)
    assert (line.category, line.category_id, match.rule) == ("Вії", "77", "from the booking catalog")
    yclients.add_service(111111, 8888, "Процедура №8", 77)  # added in YCLIENTS after the fetch
    [(line, _)] = match_services(synced, tenant, event(8888), t0 + timedelta(seconds=10))
    assert line.category is None and len(_catalog_fetches(yclients)) == 1  # just fetched: not again yet
    [(line, _)] = match_services(synced, tenant, event(8888), t0 + timedelta(minutes=2))
    assert line.category == "Вії" and len(_catalog_fetches(yclients)) == 2


def test_generic_and_yclients_services_named_like_a_category_get_it(yclients, synced):
    from bridge import intake

    tenant = synced.tenants["salon"]
    generic = {"event_id": "g-1", "occurred_at": "2026-03-01T09:00:00+02:00",
               "booking": {"id": "g-b1", "status": "completed", "start_at": "2026-03-01T10:00:00",
                           "services": [{"id": "S-9", "title": "Педикюр"}]}}
    intake.receive(synced.store, synced.queue, tenant, "generic", generic, datetime.now(UTC))
    record = yclients_record(801)
    record["data"]["services"][0].update(id=9999, title="Педикюр")  # in no catalog
    intake.receive(synced.store, synced.queue, tenant, "yclients", record, datetime.now(UTC))
    run_worker(synced, burst=True)
    assert _categories(synced) == {"g-b1": ["Педикюр"], "801": ["Педикюр"]}
