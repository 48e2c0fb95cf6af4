"""The amoCRM sync under faults, against the sandbox over real HTTP: what succeeded is kept and never
sent again, every create and note goes out once, and a burst of 429s costs seconds, not minutes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from bridge import intake
from bridge.amocrm.connect import client_for
from bridge.store import actions
from bridge.store.models import Client
from jobs.crm_sync import PATIENCE, drain, pending
from jobs.worker import run_worker
from pipelines.actions import AddNote
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking

pytestmark = pytest.mark.slow


@pytest.fixture
def amo(settings, tmp_path, monkeypatch):
    with connected_salon(settings, tmp_path, monkeypatch, block_after_429s=None) as connected:
        yield connected


def stats(base_url: str) -> dict:
    return requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()


def faults(base_url: str, **settings) -> None:
    requests.post(f"{base_url}/_sandbox/faults", json=settings, timeout=5).raise_for_status()


def first_bookings(svc, count: int) -> None:
    """First bookings of ``count`` new clients, processed by a worker; their amoCRM work is pending."""
    now = datetime.now(UTC)
    for i in range(count):
        body = booking(90 + i, when=now + timedelta(days=2), changed=now - timedelta(hours=1),
                       client_id=880000 + i, phone=f"+38067555000{i}")
        intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, now)
    run_worker(svc, burst=True)
    assert pending(svc, "salon")


def impatient(svc):
    """The sync's client, but one that gives up on a response after half a second."""
    return client_for(svc.tenants["salon"], svc, timeout=(3.05, 0.5), **PATIENCE)


def test_a_round_that_fails_half_way_keeps_what_succeeded_and_sends_it_once(amo):
    svc, base_url = amo
    first_bookings(svc, 3)
    requests.post(f"{base_url}/_sandbox/reset", json={"data": False, "limits": False, "faults": False},
                  timeout=5)  # count only what the sync sends
    faults(base_url, store_then_timeout="POST /api/v4/leads", hang_seconds=1.5)  # stored, answer lost
    report = drain(svc, svc.tenants["salon"], datetime.now(UTC), client=impatient(svc))
    assert pending(svc, "salon") == [] and report.failed == 0
    sent = stats(base_url)["by_endpoint"]
    assert sent["POST /api/v4/contacts"] == 1  # one batch, recorded before the leads went wrong
    assert sent["POST /api/v4/leads"] == 1  # the lost answer is looked up by marker, never re-sent
    api = client_for(svc.tenants["salon"], svc)
    leads = list(api.iterate("/api/v4/leads", "leads"))
    assert len(leads) == 3  # one Sales lead per client, none twice


def test_a_note_whose_answer_was_lost_is_found_again_not_written_twice(amo):
    svc, base_url = amo
    first_bookings(svc, 1)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    with svc.store.session() as s:  # two reviews from the client's page, as it records them
        client_id = s.scalar(select(Client.id))
        actions.record(s, "salon", None, client_id, [
            AddNote(key=f"note:review:{n}", client_id=str(client_id), text=f"Review {n}: lovely") for n in (1, 2)
        ], datetime.now(UTC))
    faults(base_url, store_then_timeout="POST /api/v4/contacts/notes", hang_seconds=1.5)  # stored, answer lost
    drain(svc, svc.tenants["salon"], datetime.now(UTC), client=impatient(svc))
    assert pending(svc, "salon") == []
    api = client_for(svc.tenants["salon"], svc)
    texts = [n["params"]["text"] for n in api.iterate("/api/v4/contacts/notes", "notes")]
    assert sorted(texts) == ["Review 1: lovely", "Review 2: lovely"]


def test_ten_429s_in_a_row_delay_the_work_by_seconds(amo):
    svc, base_url = amo
    first_bookings(svc, 2)
    faults(base_url, burst_429=10)
    started = time.monotonic()
    report = drain(svc, svc.tenants["salon"], datetime.now(UTC))
    took = time.monotonic() - started
    assert report.interrupted is None and report.paused is None
    assert pending(svc, "salon") == []
    assert stats(base_url)["rate_limited_429"] == 10
    assert took < 40, f"a burst of ten 429s held the work for {took:.0f} s"
