"""The clock's due index over a real store and queue: reminders once, the index moved with each plan,
and work that fell due while the clock was stopped done when it starts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bridge import intake
from bridge.store.models import Client, InboundEvent, MessageRow
from jobs.clock import run_clock
from jobs.due import enqueue_due
from jobs.worker import run_worker
from tests.helpers import yclients_record

KYIV = ZoneInfo("Europe/Kyiv")


def _visit_days_ago(days: int) -> str:
    day = datetime.now(KYIV).date() - timedelta(days=days)
    return f"{day.isoformat()} 12:00:00"


def completed_manicure(services, days_ago: int = 15, record_id: int = 500000001) -> None:
    """A manicure (21-day periodicity) completed ``days_ago``: its reminder is due 7 days before the due date."""
    tenant, now = services.tenants["salon"], datetime.now(UTC)
    date = _visit_days_ago(days_ago)
    for body in (
        yclients_record(record_id, status="create", attendance=0, date=date, changed="2026-03-01T09:00:00+0200"),
        yclients_record(record_id, status="update", attendance=1, date=date, changed="2026-03-02T09:00:00+0200"),
    ):
        intake.receive(services.store, services.queue, tenant, "yclients", body, now)
    run_worker(services, burst=True)


def reminders(services) -> int:
    with services.store.session() as s:
        return s.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.template == "repeat_reminder"))


def client_row(services) -> Client:
    with services.store.session() as s:
        return s.scalar(select(Client))


def test_a_reminder_due_now_is_planned_once_however_many_ticks_and_clocks(services):
    completed_manicure(services)
    assert reminders(services) == 0
    now = datetime.now(UTC)
    clocks = [threading.Thread(target=enqueue_due, args=(services, now)) for _ in range(2)]
    for clock in clocks:
        clock.start()
    for clock in clocks:
        clock.join()
    for _ in range(3):  # later ticks, with and without workers in between
        enqueue_due(services, datetime.now(UTC))
        run_worker(services, burst=True)
    assert reminders(services) == 1
    wake = client_row(services).wake_at
    assert wake is not None and wake > datetime.now(UTC)  # the next instant the rules care about
    enqueue_due(services, datetime.now(UTC))
    assert services.queue.depth() == 0  # nobody is due: an idle tick queues nothing


def test_each_plan_moves_the_index_in_its_own_transaction(services):
    completed_manicure(services, days_ago=3)  # due in 18 days: nothing to remind yet
    enqueue_due(services, datetime.now(UTC))
    run_worker(services, burst=True)
    settled = client_row(services).wake_at
    assert settled > datetime.now(UTC) + timedelta(days=5)  # the reminder time, 11 days out
    tenant = services.tenants["salon"]
    rebook = yclients_record(500000002, status="create", date=_visit_days_ago(-10),
                             changed="2026-03-03T09:00:00+0200")
    receipt = intake.receive(services.store, services.queue, tenant, "yclients", rebook, datetime.now(UTC))
    run_worker(services, burst=True)
    with services.store.session() as s:
        processed = s.get(InboundEvent, receipt.event_id).processed_at
    assert client_row(services).wake_at == processed  # written by the transaction that recorded the plan
    enqueue_due(services, datetime.now(UTC))
    run_worker(services, burst=True)
    booked = client_row(services).wake_at
    assert datetime.now(UTC) < booked < settled  # the new booking's start now comes first
    cancel = yclients_record(500000002, status="delete", deleted=True, date=_visit_days_ago(-10),
                             changed="2026-03-04T09:00:00+0200")
    receipt = intake.receive(services.store, services.queue, tenant, "yclients", cancel, datetime.now(UTC))
    run_worker(services, burst=True)
    with services.store.session() as s:
        processed = s.get(InboundEvent, receipt.event_id).processed_at
    assert client_row(services).wake_at == processed


def test_work_due_while_the_clock_was_stopped_is_done_when_it_starts(services):
    completed_manicure(services, days_ago=16)  # the reminder fell due a day ago; no clock was running
    assert reminders(services) == 0
    stop = threading.Event()
    clock = threading.Thread(target=run_clock, args=(services, stop), kwargs={"tick_s": 0.1})
    clock.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while reminders(services) == 0 and datetime.now(UTC) < deadline:
            run_worker(services, burst=True)
            stop.wait(0.3)
    finally:
        stop.set()
        clock.join(timeout=15)
    assert reminders(services) == 1
    assert not clock.is_alive()
