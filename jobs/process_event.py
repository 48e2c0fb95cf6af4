"""``process_event``: one stored booking event → client and visit upserted → planned actions recorded.

Everything the plan changes in our own store (visit history, cycles, leads, scheduled messages) is
written in the same transaction as the event is marked done; amoCRM work is recorded as pending
actions and carried out afterwards by the CRM sync job, in batches and within amoCRM's rate limit.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bridge.services import Services
from bridge.store import actions as applied
from bridge.store import inbox, playbook, visits
from jobs import context
from jobs.amocrm_events import reconcile
from jobs.catalog import resolve_categories
from jobs.policy import policy_for
from pipelines.actions import Action, RecordVisit, Skip
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
        if "booking" not in payload:  # a change a person made in amoCRM
            return _reconciled(svc, event_id, payload, now)
        status, crm_work = _process(svc, event_id, VisitEvent.from_dict(payload), now)
    except Exception as exc:
        with svc.store.session() as s:
            row = s.get(inbox.InboundEvent, event_id)
            inbox.finish(s, row, "retry", now, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    if crm_work:
        svc.queue.enqueue_crm_sync(payload["tenant"])
    return status


def _process(svc: Services, event_id: int, event: VisitEvent, now: datetime) -> tuple[str, bool]:
    tenant = svc.tenants.get(event.tenant)
    if tenant is None:
        return _close(svc, event_id, "invalid", now, f"tenant {event.tenant!r} is not configured"), False
    event = resolve_categories(svc, tenant, event, now)
    with _client_lock(svc, event), svc.store.session() as s:
        row = s.get(inbox.InboundEvent, event_id)
        visit = visits.find_visit(s, event.tenant, event.source, event.booking.external_id)
        if visit is not None and is_stale(visits.visit_state(visit), event):
            inbox.finish(s, row, "stale", now, error="a newer snapshot of this booking was already applied")
            return "stale", False
        client = visits.upsert_client(s, event, now)
        s.flush()
        planned = plan(event, playbook.snapshot_for(s, client, visit), policy_for(tenant), now)
        history = [t.value for a in planned if isinstance(a, RecordVisit) for t in a.transitions]
        visits.upsert_visit(s, event, client, history, now)
        s.flush()
        _, crm_work = record_actions(s, event.tenant, event_id, client.id if client else None, planned, now)
        inbox.finish(s, row, "done", now)
    return "done", crm_work


def record_actions(
    s: Session, tenant: str, event_id: int | None, client_id: int | None, planned: list[Action], now: datetime
) -> tuple[int, bool]:
    """Record fresh actions and apply their local effects; returns (how many, whether amoCRM work is pending)."""
    crm_work = False
    fresh = applied.record_new(s, tenant, event_id, client_id, planned, now)
    for action, row in fresh:
        playbook.write_local(s, tenant, client_id, action, now)
        if isinstance(action, Skip):
            log.info("skipped %s for %s: %s", action.rule, tenant, action.reason)
        if action.kind in playbook.CRM_KINDS:
            crm_work = True
        else:
            applied.mark_applied(row, now)
    return len(fresh), crm_work


def _reconciled(svc: Services, event_id: int, payload: dict, now: datetime) -> str:
    outcome = reconcile(svc, payload, now)
    with svc.store.session() as s:
        inbox.finish(s, s.get(inbox.InboundEvent, event_id), "done", now)
    return outcome


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
