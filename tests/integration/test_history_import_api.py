"""History import from the booking system's REST API (a fake YCLIENTS over real HTTP): pages, the rate
limit waited out, a failure half-way and a resume at the page it stopped, history mode, a second run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bridge.store.models import Visit
from salonbridge.history_import import PAGE_SIZE, run_api_import
from tests.fakes.http import serve
from tests.fakes.yclients import PARTNER_TOKEN, USER_TOKEN, FakeYclients

KYIV = ZoneInfo("Europe/Kyiv")
RECORDS = PAGE_SIZE + 30  # two pages


@pytest.fixture
def fake():
    yclients = FakeYclients()
    with serve(yclients.app) as url:
        yield yclients, url


@pytest.fixture
def tenants_dir(tenants_dir, fake, monkeypatch):
    path = tenants_dir / "salon.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  webhook_token_env: SALON_TEST_WEBHOOK_TOKEN\n",
        f"  webhook_token_env: SALON_TEST_WEBHOOK_TOKEN\n  api_url: {fake[1]}/api/v1\n"
        "  partner_token_env: SALON_YC_PARTNER\n  user_token_env: SALON_YC_USER\n")
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SALON_YC_PARTNER", PARTNER_TOKEN)
    monkeypatch.setenv("SALON_YC_USER", USER_TOKEN)
    return tenants_dir


def record(n: int, days_ago: int) -> dict:
    start = (datetime.now(UTC) - timedelta(days=days_ago)).astimezone(KYIV).replace(hour=12, minute=0, second=0,
                                                                                   microsecond=0)
    return {"id": 9000 + n, "staff_id": 2222, "staff": {"id": 2222, "name": "Анна"},
            "services": [{"id": 3333, "title": "Манікюр", "cost": 500, "amount": 1}],
            "client": {"id": 100 + n, "name": f"Клієнтка {n}", "phone": "123" if n == 7 else f"+38067{n:07d}"},
            "date": start.strftime("%Y-%m-%d %H:%M:%S"), "datetime": start.isoformat(),
            "create_date": (start - timedelta(days=3)).isoformat(), "last_change_date": start.isoformat(),
            "attendance": 1, "deleted": False, "online": True, "seance_length": 3600}


class Progress:
    """A progress bar stand-in that makes the booking system refuse the next request after ``fail_at``."""

    def __init__(self, fake: FakeYclients, fail_at: int | None) -> None:
        self.fake, self.fail_at, self.seen = fake, fail_at, 0

    def update(self, n: int) -> None:
        self.seen += n
        if self.seen == self.fail_at:
            self.fake.fail_next(403, message="Access denied")

    def close(self) -> None:
        pass


def test_pages_rate_limit_failure_resume_and_history_mode(services, fake):
    yclients, _ = fake
    for n in range(RECORDS):
        yclients.add_record(111111, record(n, days_ago=300 if n < RECORDS - 10 else 3))
    tenant = services.tenants["salon"]
    waits: list[float] = []
    yclients.fail_next(429, retry_after="7")
    first = run_api_import(services, tenant, None, progress=lambda _: Progress(yclients, fail_at=PAGE_SIZE),
                           sleep=waits.append)
    assert waits == [7.0]
    assert "stopped by the booking system (YCLIENTS 403: Access denied) at branch 111111, page 2" in first.stopped
    assert first.events["accepted"] == PAGE_SIZE and first.actions["CreateTask"] == 0  # all long over
    assert first.invalid_phones == [9007]

    before = len(yclients.requests)
    second = run_api_import(services, tenant, None, sleep=waits.append)
    assert second.stopped == "" and second.events["accepted"] == RECORDS - PAGE_SIZE  # resumed at page 2
    assert second.actions["CreateTask"] == 10 and second.cycles_history == RECORDS - PAGE_SIZE - 10
    pages = [(r["path"].rsplit("/", 1)[1], r["args"]["page"]) for r in yclients.requests[before:]]
    assert pages == [("111111", "2"), ("111112", "1")]  # resumed at the page it stopped
    with services.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Visit)) == RECORDS

    third = run_api_import(services, tenant, None, sleep=waits.append)
    assert third.events["accepted"] == 0 and third.events["duplicate"] == RECORDS and sum(third.actions.values()) == 0


def test_the_import_asks_for_the_materials_each_visit_used(services, fake):
    yclients, _ = fake
    done = record(1, days_ago=20)
    done["goods_transactions"] = [{"id": 71, "amount": -1, "cost": 450, "good": {"id": 55, "title": "Крем для рук"}}]
    done["consumables"] = [{"id": 72, "amount": "-2.5", "cost": "37.5", "good": {"id": 7, "title": "Гель-лак"},
                            "service_unit": {"title": "мл"}}]
    yclients.add_record(111111, done)

    run_api_import(services, services.tenants["salon"], None, sleep=lambda _: None)

    with services.store.session() as s:
        goods = s.scalar(select(Visit.goods))
    assert sorted((line["kind"], line["title"]) for line in goods) == [
        ("material", "Гель-лак"), ("product", "Крем для рук")]
