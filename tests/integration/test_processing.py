"""Stored events through the real queue and a real RQ worker: clients and visits come out right."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bridge import intake
from bridge.store import stats
from bridge.store.models import AppliedAction, Client, Visit
from jobs.process_event import handle_event
from jobs.worker import run_worker
from salonbridge.replay import replay_lines
from tests.helpers import yclients_record


def deliver(services, *bodies):
    tenant = services.tenants["salon"]
    return [intake.receive(services.store, services.queue, tenant, "yclients", b, datetime.now(UTC)) for b in bodies]


def visit(services, record_id=500000001) -> Visit:
    with services.store.session() as s:
        query = select(Visit).options(selectinload(Visit.services)).where(Visit.external_id == str(record_id))
        return s.scalar(query)


def test_create_then_complete_gives_one_client_and_a_completed_visit(services):
    deliver(
        services,
        yclients_record(status="create", attendance=0, changed="2026-03-01T09:00:00+0200"),
        yclients_record(status="update", attendance=1, changed="2026-03-05T13:35:00+0200"),
    )
    run_worker(services, burst=True)
    v = visit(services)
    assert v.status == "completed"
    assert v.start_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv (UTC+2 in March)
    assert [s.category for s in v.services] == ["Манікюр"]  # from the tenant's catalog: webhooks carry none
    assert [h["transition"] for h in v.history] == ["booking.created", "visit.completed"]
    assert stats.counts(services.store, "salon") == {"clients": 1, "visits": {"completed": 1}}
    assert stats.events_by_status(services.store) == {"done": 2}
    with services.store.session() as s:
        client = s.scalar(select(Client))
        assert (client.phone, client.external_id) == ("+380671234567", "777777")
    assert services.queue.rq.failed_job_registry.count == 0


def test_a_late_older_delivery_is_dropped_as_stale(services):
    deliver(services, yclients_record(status="update", attendance=1, changed="2026-03-05T13:35:00+0200"))
    run_worker(services, burst=True)
    deliver(services, yclients_record(status="create", attendance=0, changed="2026-03-01T09:00:00+0200"))
    run_worker(services, burst=True)
    assert visit(services).status == "completed"
    assert stats.events_by_status(services.store) == {"done": 1, "stale": 1}


def test_deleted_then_restored_booking(services):
    deliver(
        services,
        yclients_record(status="create", changed="2026-03-01T09:00:00+0200"),
        yclients_record(status="delete", deleted=True, changed="2026-03-02T09:00:00+0200"),
    )
    run_worker(services, burst=True)
    assert visit(services).status == "cancelled"
    deliver(services, yclients_record(status="update", attendance=2, changed="2026-03-03T09:00:00+0200"))
    run_worker(services, burst=True)
    v = visit(services)
    assert v.status == "confirmed"
    assert [h["transition"] for h in v.history] == ["booking.created", "booking.cancelled", "booking.restored"]


def test_processing_the_same_event_twice_records_its_actions_once(services):
    (receipt,) = deliver(services, yclients_record())
    run_worker(services, burst=True)
    with services.store.session() as s:
        first = sorted(s.scalars(select(AppliedAction.key)))
    assert first  # a first booking plans bookkeeping, a contact, a Sales lead, messages
    with services.store.session() as s:
        s.get(intake.inbox.InboundEvent, receipt.event_id).status = "retry"  # as if a retry came after success
    handle_event(services, receipt.event_id, datetime.now(UTC))
    with services.store.session() as s:
        assert sorted(s.scalars(select(AppliedAction.key))) == first


def test_replay_uses_the_live_path_and_recognises_duplicates(services, tmp_path):
    lines = [json.dumps(yclients_record(i, changed=f"2026-03-01T09:0{i % 10}:00+0200")) for i in range(1, 6)]
    lines += [lines[0], "{not json", json.dumps({"tenant": "salon", "source": "yclients", "body": yclients_record(9)})]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with path.open(encoding="utf-8") as handle:
        summary = replay_lines(services, handle, default_tenant="salon", default_source="yclients")
    assert summary.outcomes == {"accepted": 6, "duplicate": 1, "rejected": 1}
    assert "line 7: malformed JSON" in summary.render()
    run_worker(services, burst=True)
    assert stats.counts(services.store, "salon")["visits"] == {"scheduled": 6}


def test_bookings_of_one_new_client_processed_at_once_by_two_workers_give_one_client(services):
    """Each round: two first bookings of a person nobody knows yet, their jobs started together."""
    for round_ in range(8):
        bodies = [yclients_record(record_id=510000000 + round_ * 2 + i, client_id=880000 + round_,
                                  phone=f"+38067{round_:07d}") for i in range(2)]
        receipts = deliver(services, *bodies)
        start = threading.Barrier(2)

        def work(event_id: int, start: threading.Barrier = start) -> None:
            start.wait()
            handle_event(services, event_id, datetime.now(UTC))

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, [r.event_id for r in receipts]))
    with services.store.session() as s:
        assert sorted(s.scalars(select(Client.external_id))) == [str(880000 + r) for r in range(8)]
        assert s.scalar(select(func.count()).select_from(Visit)) == 16
    assert stats.events_by_status(services.store) == {"done": 16}


def test_an_event_failing_mid_plan_leaves_nothing_but_its_counted_attempt(services, monkeypatch):
    """The claim, the plan's writes and the event's closing share one transaction: a failure after the client
    and visit were written rolls them back with the claim, and the attempt is counted by the retry mark."""
    from bridge.store import actions

    (receipt,) = deliver(services, yclients_record())

    def broken(*_args, **_kwargs):
        raise RuntimeError("recording failed")

    monkeypatch.setattr(actions, "record", broken)
    for attempt in (1, 2):
        try:
            handle_event(services, receipt.event_id, datetime.now(UTC))
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failure reaches RQ")
        with services.store.session() as s:
            row = s.get(intake.inbox.InboundEvent, receipt.event_id)
            assert (row.status, row.attempts) == ("retry", attempt)
            assert "recording failed" in row.error
            assert s.scalar(select(func.count()).select_from(Client)) == 0
            assert s.scalar(select(func.count()).select_from(Visit)) == 0
    monkeypatch.undo()
    assert handle_event(services, receipt.event_id, datetime.now(UTC)) == "done"
    assert stats.counts(services.store, "salon") == {"clients": 1, "visits": {"scheduled": 1}}


def test_a_booking_without_a_client_is_updated_by_its_next_delivery(services):
    """A walk-in slot with no client yet: its second delivery reads the stored booking back, as every
    update does, with nobody's history to plan against."""
    first, second = (yclients_record(status=status, changed=changed)
                     for status, changed in (("create", "2026-03-01T09:00:00+0200"),
                                             ("update", "2026-03-02T09:00:00+0200")))
    for body in (first, second):
        body["data"]["client"] = None
    deliver(services, first)
    run_worker(services, burst=True)
    second["data"]["create_date"] = "2026-02-28T18:00:00+0200"
    deliver(services, second)
    run_worker(services, burst=True)
    assert stats.events_by_status(services.store) == {"done": 2}
    assert visit(services).booked_at == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert services.queue.rq.failed_job_registry.count == 0
