"""``process_event``: one stored event → client and visit upserted → planned actions recorded.

Everything the plan changes in our own store (visit history, cycles, leads, scheduled messages) is
written in the same transaction as the event is marked done, together with the client's wake-up for
the clock, and, for a booking whose categories need no catalog lookup, with the event's claim itself;
amoCRM work is recorded as pending actions and carried out afterwards by the CRM sync job, which the
clock queues once a tenant's work has had a moment to gather (so it goes out in batches).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge import intake, telemetry
from bridge.failures import describe_failure, transient
from bridge.services import Services
from bridge.store import actions, inbox, locks, playbook, visits
from config.logging import bind
from jobs import context
from jobs.amocrm_events import reconcile
from jobs.catalog import needs_catalog, resolve_categories
from pipelines.actions import RecordVisit, Skip
from pipelines.events import VisitEvent
from pipelines.planner import plan

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


def process_event(event_id: int) -> str:
    """RQ entry point; returns the event's final status (visible in RQ's job result)."""
    return handle_event(context.current(), event_id, datetime.now(UTC))


def handle_event(svc: Services, event_id: int, now: datetime) -> str:
    claimed: inbox.Claimed | None = None
    outcome: str | None = None
    try:
        with svc.store.session() as s:
            claimed = inbox.claim(s, event_id, now, LEASE)
            if claimed is None:
                return "already-done"
            bind(tenant=_tenant_of(claimed), event_id=event_id)
            ready = _ready(svc, claimed, now)
            if ready is not None:  # planned and closed in the claim's transaction: one commit
                outcome = _record(svc, s, event_id, ready, now)
    except Exception as exc:
        if claimed is None:  # the claim itself failed (the store is down): nothing was taken
            raise
        outcome = _failed(svc, event_id, claimed, exc, now, attempted=True)
    if outcome is None:  # the claim is committed; the event is handled in transactions of its own
        outcome = _handle(svc, event_id, claimed, now)
    tenant = _tenant_of(claimed)
    if claimed.received_at is not None and tenant in svc.tenants:  # closed: receipt to processed
        telemetry.observe_soon(svc.queue.connection, telemetry.EVENT_LATENCY, {"tenant": tenant},
                               (datetime.now(UTC) - claimed.received_at).total_seconds())
    return outcome


def _tenant_of(claimed: inbox.Claimed) -> str | None:
    return claimed.payload.get("tenant") if isinstance(claimed.payload, dict) else None


def _ready(svc: Services, claimed: inbox.Claimed, now: datetime) -> VisitEvent | None:
    """The booking event with its categories filled in, when that needs neither the store nor the network
    (the tenant file or the event categorises every line): it is then planned in the claim's transaction.
    None for amoCRM changes, unknown tenants and lines to look up in the branch's catalog, which are
    handled after the claim is committed (a catalog fetch must not hold the store's write lock)."""
    if claimed.source == intake.AMOCRM_SOURCE:
        return None
    event = VisitEvent.from_dict(claimed.payload)
    tenant = svc.tenants.get(event.tenant)
    if tenant is None or needs_catalog(svc, tenant, event):
        return None
    return resolve_categories(svc, tenant, event, now)


def _handle(svc: Services, event_id: int, claimed: inbox.Claimed, now: datetime) -> str:
    try:
        if claimed.source == intake.AMOCRM_SOURCE:  # a change a person made in amoCRM
            return _reconciled(svc, event_id, claimed.payload, now)
        return _process(svc, event_id, VisitEvent.from_dict(claimed.payload), now)
    except Exception as exc:
        return _failed(svc, event_id, claimed, exc, now)


def _failed(svc: Services, event_id: int, claimed: inbox.Claimed, exc: Exception, now: datetime, *,
            attempted: bool = False) -> str:
    """Mark the event for a retry (and raise ``exc`` again, so RQ sees the failure) or park it after too many
    attempts. ``attempted``: the claim was rolled back with the failed work, so the attempt is counted here."""
    error = describe_failure(exc, svc.settings.environ)
    park = not transient(exc) and claimed.attempts >= svc.settings.max_event_attempts
    with svc.store.session() as s:
        inbox.finish(s, event_id, inbox.FAILED if park else "retry", now, error=error, attempted=attempted)
    if not park:
        raise exc
    booking = inbox.booking_id(claimed.source, claimed.payload)
    log.error("event %s (%s, booking %s) failed %d times and is parked: %s (after a fix: "
              "salonbridge events retry %s)", event_id, claimed.source, booking, claimed.attempts, error,
              event_id)
    return inbox.FAILED


def _process(svc: Services, event_id: int, event: VisitEvent, now: datetime) -> str:
    tenant = svc.tenants.get(event.tenant)
    if tenant is None:
        return _close(svc, event_id, "invalid", now, f"tenant {event.tenant!r} is not configured")
    event = resolve_categories(svc, tenant, event, now)
    with svc.store.session() as s:
        return _record(svc, s, event_id, event, now)


def _record(svc: Services, s: Any, event_id: int, event: VisitEvent, now: datetime) -> str:
    """Plan the event against the client's stored state and record the plan, closing the event, in the session ``s``."""
    locks.hold(s, client_lock_name(event))  # the person's other events wait for this transaction
    visit = visits.find_visit(s, event.tenant, event.source, event.booking.external_id)
    if visits.is_stale(visit, event):
        inbox.finish(s, event_id, "stale", now, error="a newer snapshot of this booking was already applied")
        return "stale"
    client = visits.upsert_client(s, event, now)  # written at once, its wake-up set: the clock looks again
    # Keys already recorded are dropped by ``actions.record`` (a plan is recorded in one transaction, so a
    # retried job never finds half of it), which spares loading every key the client ever had.
    policy = svc.policy(event.tenant)
    snapshot = playbook.snapshot_for(s, client, visit, with_applied=False,
                                     with_prepayments=policy.prepayment is not None)
    planned = plan(event, snapshot, policy, now)
    record = next((a for a in planned if isinstance(a, RecordVisit)), None)
    visits.upsert_visit(s, event, visit, client, record, now)
    recorded = actions.record(s, event.tenant, event_id, client.id if client else None, planned, now)
    _log_skips(event.tenant, recorded.fresh)
    inbox.finish(s, event_id, "done", now)
    return "done"


def _log_skips(tenant: str, fresh: tuple) -> None:
    for action in fresh:
        if isinstance(action, Skip):
            log.debug("skipped %s for %s: %s", action.rule, tenant, action.reason)


def _reconciled(svc: Services, event_id: int, payload: dict, now: datetime) -> str:
    outcome = reconcile(svc, payload, now)
    with svc.store.session() as s:
        inbox.finish(s, event_id, "done", now)
    return outcome


def _close(svc: Services, event_id: int, status: str, now: datetime, reason: str) -> str:
    log.warning("event %s %s: %s", event_id, status, reason)
    with svc.store.session() as s:
        inbox.finish(s, event_id, status, now, error=reason)
    return status


def client_lock_name(event: VisitEvent) -> str:
    """The person an event is about (``bridge.store.locks`` serializes their events)."""
    c = event.client
    who = (c and (c.external_id or c.phone or c.email)) or f"booking:{event.booking.external_id}"
    return f"salonbridge:lock:{event.tenant}:client:{who}"
