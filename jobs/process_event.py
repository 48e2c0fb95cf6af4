"""``process_event``: one stored booking event → client and visit upserted → planned actions recorded."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bridge.services import Services
from bridge.store import actions as applied
from bridge.store import inbox, visits
from jobs import context
from jobs.catalog import resolve_categories
from jobs.policy import policy_for
from pipelines.actions import RecordVisit
from pipelines.events import VisitEvent
from pipelines.planner import plan
from pipelines.transitions import is_stale

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


def process_event(event_id: int) -> str:
    """RQ entry point; returns the event's final status (visible in RQ's job result)."""
    return handle_event(context.current(), event_id, datetime.now(UTC))


def handle_event(svc: Services, event_id: int, now: datetime) -> str:
    with svc.store.session() as s:
        row = inbox.claim(s, event_id, now, LEASE)
        payload = dict(row.payload) if row else None
    if payload is None:
        return "already-done"
    try:
        return _process(svc, event_id, VisitEvent.from_dict(payload), now)
    except Exception as exc:
        with svc.store.session() as s:
            row = s.get(inbox.InboundEvent, event_id)
            inbox.finish(s, row, "retry", now, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _process(svc: Services, event_id: int, event: VisitEvent, now: datetime) -> str:
    tenant = svc.tenants.get(event.tenant)
    if tenant is None:
        return _close(svc, event_id, "invalid", now, f"tenant {event.tenant!r} is not configured")
    event = resolve_categories(svc, tenant, event, now)
    with _client_lock(svc, event), svc.store.session() as s:
        snapshot = visits.load_snapshot(s, event)
        row = s.get(inbox.InboundEvent, event_id)
        if is_stale(snapshot.visit, event):
            inbox.finish(s, row, "stale", now, error="a newer snapshot of this booking was already applied")
            return "stale"
        planned = plan(event, snapshot, policy_for(tenant), now)
        history = [t.value for a in planned if isinstance(a, RecordVisit) for t in a.transitions]
        client = visits.upsert_client(s, event, now)
        visits.upsert_visit(s, event, client, history, now)
        for action in applied.record_new(s, event.tenant, event_id, planned, now):
            if action.kind == RecordVisit.__name__:  # bookkeeping is done by the upsert above
                applied.mark_applied(action, now)
        inbox.finish(s, row, "done", now)
    return "done"


def _close(svc: Services, event_id: int, status: str, now: datetime, reason: str) -> str:
    log.warning("event %s %s: %s", event_id, status, reason)
    with svc.store.session() as s:
        inbox.finish(s, s.get(inbox.InboundEvent, event_id), status, now, error=reason)
    return status


def client_lock_name(event: VisitEvent) -> str:
    c = event.client
    who = (c and (c.external_id or c.phone or c.email)) or f"booking:{event.booking.external_id}"
    return f"salonbridge:lock:{event.tenant}:client:{who}"


def _client_lock(svc: Services, event: VisitEvent):
    """Serialize events of one client, so two workers never plan from the same stale snapshot."""
    return svc.queue.connection.lock(client_lock_name(event), timeout=120, blocking_timeout=60)
