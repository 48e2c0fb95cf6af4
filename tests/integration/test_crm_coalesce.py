"""The clock's amoCRM sync waits for a tenant's work to go quiet, so what arrives together goes out
together, and a tenant whose work never goes quiet still gets its sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.store import actions as recorded
from bridge.store.models import Client
from config.settings import Settings, SettingsError
from jobs.clock import crm_sync_at, sync_crm_backlog
from pipelines.actions import UpsertContact


def _client_actions(services, at: datetime, n: int) -> None:
    """A client's contact recorded at ``at`` (as its event's processing does)."""
    with services.store.session() as s:
        client = Client(tenant="salon", name=f"Client {n}", phone=f"+38067{3000000 + n:07d}", created_at=at,
                        updated_at=at, tags=[])
        s.add(client)
        s.flush()
        recorded.record(s, "salon", None, client.id, [UpsertContact(
            key=f"contact:{client.id}", client_id=str(client.id), name=client.name, phone=client.phone)], at)


def _queued(services) -> bool:
    return "crm-salon" in services.queue.rq.job_ids


def test_the_sync_waits_until_the_work_has_been_quiet_for_the_window(services):
    t0 = datetime.now(UTC).replace(microsecond=0)
    _client_actions(services, t0, 1)
    _client_actions(services, t0 + timedelta(seconds=3), 2)  # a second webhook moments later
    assert services.settings.crm_coalesce_s == 5
    assert sync_crm_backlog(services, t0 + timedelta(seconds=6)) == 0  # the second is only 3 s old
    assert not _queued(services)
    assert sync_crm_backlog(services, t0 + timedelta(seconds=8)) == 1  # quiet for 5 s: both in one sync
    assert _queued(services)


def test_a_tenant_whose_work_never_goes_quiet_is_synced_after_six_windows(services):
    t0 = datetime.now(UTC).replace(microsecond=0)
    for n in range(10):  # a new client every 3 s: never quiet for 5 s
        _client_actions(services, t0 + timedelta(seconds=3 * n), n)
    assert sync_crm_backlog(services, t0 + timedelta(seconds=28)) == 0
    assert sync_crm_backlog(services, t0 + timedelta(seconds=30)) == 1


def test_the_sync_goes_ahead_of_the_events_a_burst_left_waiting(services):
    """amoCRM's budget is what a backlog waits for: the sync is not queued behind thousands of events."""
    for event_id in range(1, 6):
        services.queue.enqueue_event(event_id)
    assert services.queue.enqueue_crm_sync("salon")
    services.queue.enqueue_event(6)
    assert services.queue.rq.job_ids == ["crm-salon", "evt-1", "evt-2", "evt-3", "evt-4", "evt-5", "evt-6"]


def test_the_sync_instant_is_the_end_of_the_quiet_window_or_six_windows_after_the_oldest():
    t0, window = datetime(2026, 3, 2, 10, tzinfo=UTC), timedelta(seconds=5)
    assert crm_sync_at(t0, t0, window) == t0 + window
    assert crm_sync_at(t0, t0 + timedelta(seconds=3), window) == t0 + timedelta(seconds=8)
    assert crm_sync_at(t0, t0 + timedelta(seconds=29), window) == t0 + timedelta(seconds=30)


def test_the_window_is_a_setting():
    assert Settings.from_env({"SALONBRIDGE_CRM_COALESCE_S": "0"}).crm_coalesce_s == 0
    assert Settings.from_env({}).to_env()["SALONBRIDGE_CRM_COALESCE_S"] == "5"
    with pytest.raises(SettingsError, match="SALONBRIDGE_CRM_COALESCE_S"):
        Settings.from_env({"SALONBRIDGE_CRM_COALESCE_S": "soon"})
