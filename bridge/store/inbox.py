"""Inbound events and their outbox rows: durable intake, claiming for processing, sweeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.db import Store
from bridge.store.models import InboundEvent, OutboxRow


@dataclass(frozen=True)
class Receipt:
    event_id: int
    duplicate: bool


def accept(
    store: Store, *, tenant: str, source: str, dedupe_key: str, payload: dict[str, Any], now: datetime
) -> Receipt:
    """Store an event and the job owed for it in one transaction; a known dedupe key is a duplicate."""
    try:
        with store.session() as s:  # Core inserts on the connection: this is the hot path of every webhook
            conn = s.connection()
            event_id = conn.scalar(
                insert(InboundEvent)
                .values(tenant=tenant, source=source, dedupe_key=dedupe_key, payload=payload, received_at=now)
                .returning(InboundEvent.id)
            )
            conn.execute(insert(OutboxRow).values(event_id=event_id, created_at=now))
            return Receipt(event_id, duplicate=False)
    except IntegrityError:
        with store.session() as s:
            existing = s.scalar(
                select(InboundEvent.id).where(
                    InboundEvent.tenant == tenant,
                    InboundEvent.source == source,
                    InboundEvent.dedupe_key == dedupe_key,
                )
            )
        if existing is None:  # the conflict was something else: let it surface
            raise
        return Receipt(existing, duplicate=True)


@dataclass(frozen=True)
class NewEvent:
    """One event of a delivery, for ``accept_many``."""

    tenant: str
    source: str
    dedupe_key: str
    payload: dict[str, Any]


def accept_many(store: Store, events: Sequence[NewEvent], now: datetime) -> list[Receipt]:
    """Store every event of one delivery, each with its outbox row, in ONE transaction: all or none.

    A known dedupe key (stored before, or earlier in the same delivery) is a duplicate; the insert skips
    it with ``ON CONFLICT DO NOTHING`` instead of failing, so one duplicate never aborts the others."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}
    receipts: list[Receipt] = []
    with store.session() as s:
        conn = s.connection()
        insert_event = dialect[conn.dialect.name].insert
        for event in events:
            event_id = conn.scalar(
                insert_event(InboundEvent)
                .values(tenant=event.tenant, source=event.source, dedupe_key=event.dedupe_key,
                        payload=event.payload, received_at=now)
                .on_conflict_do_nothing(index_elements=["tenant", "source", "dedupe_key"])
                .returning(InboundEvent.id)
            )
            if event_id is None:
                existing = conn.scalar(select(InboundEvent.id).where(
                    InboundEvent.tenant == event.tenant, InboundEvent.source == event.source,
                    InboundEvent.dedupe_key == event.dedupe_key))
                receipts.append(Receipt(existing, duplicate=True))
                continue
            conn.execute(insert(OutboxRow).values(event_id=event_id, created_at=now))
            receipts.append(Receipt(event_id, duplicate=False))
    return receipts


def owed(store: Store, *, older_than: datetime, stuck_before: datetime, limit: int = 500) -> list[int]:
    """Events whose job may be missing: not done a while after receipt, or long after the last sweep.

    Intake does not record its own successful enqueue (that would cost every webhook a second write
    transaction); re-enqueueing is harmless because job ids are unique, so the sweeper simply offers
    every unfinished row once, then again only after ``stuck_before``.
    """
    with store.session() as s:
        rows = s.scalars(
            select(OutboxRow.event_id)
            .where(
                ((OutboxRow.state == "pending") & (OutboxRow.created_at < older_than))
                | ((OutboxRow.state == "enqueued") & (OutboxRow.enqueued_at < stuck_before))
            )
            .order_by(OutboxRow.event_id)
            .limit(limit)
        )
        return list(rows)


def reopen_enqueued(store: Store) -> int:
    """Offer every queued, unfinished row to the next sweep again: Redis lost the jobs it held."""
    with store.session() as s:
        return s.execute(update(OutboxRow).where(OutboxRow.state == "enqueued").values(state="pending")).rowcount


def mark_requeued(store: Store, event_ids: list[int], now: datetime) -> None:
    if not event_ids:
        return
    with store.session() as s:
        s.execute(
            update(OutboxRow)
            .where(OutboxRow.event_id.in_(event_ids), OutboxRow.state != "done")
            .values(state="enqueued", enqueued_at=now, attempts=OutboxRow.attempts + 1)
        )


OPEN_STATUSES = ("received", "retry", "processing")
FAILED = "failed"  # parked after too many failures: not retried until ``reopen``


@dataclass(frozen=True)
class Claimed:
    source: str
    payload: dict[str, Any]
    attempts: int = 1  # including this one
    received_at: datetime | None = None  # when the delivery was stored (UTC)


# Table-level statements (every job runs them): plain SQL, without the ORM's per-statement bookkeeping.
_EVENTS, _OUTBOX = InboundEvent.__table__, OutboxRow.__table__
_CLAIM = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("b_id"), _EVENTS.c.status.in_(OPEN_STATUSES))
    .values(status="processing", lease_until=bindparam("b_lease_until"), attempts=_EVENTS.c.attempts + 1)
    .returning(_EVENTS.c.source, _EVENTS.c.payload, _EVENTS.c.attempts, _EVENTS.c.received_at)
)
_FINISH = update(_EVENTS).where(_EVENTS.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), lease_until=None, error=bindparam("b_error"),
    processed_at=bindparam("b_processed_at"))
_FINISH_ATTEMPT = _FINISH.values(attempts=_EVENTS.c.attempts + 1)
_OUTBOX_DONE = update(_OUTBOX).where(_OUTBOX.c.event_id == bindparam("b_id")).values(state="done")


def claim(session: Session, event_id: int, now: datetime, lease: timedelta) -> Claimed | None:
    """Take an event that is not finished yet, with its source and payload; None when done (or unknown).

    A "processing" event is taken over too: its job id is fixed and RQ runs one execution of a job at
    a time, so a processing event seen by its own job is the leftover of a killed execution.

    The claim holds the event's row until the caller's transaction ends (SQLite: the write transaction;
    PostgreSQL: the row lock of the UPDATE, and a second claimer finds the event done once it may go on).
    A caller that plans and closes the event in the claim's own transaction leaves no trace when killed
    mid-way (the event stays as it was, for the job's next run); one that commits the claim first keeps
    the event "processing" and its attempt counted meanwhile.
    """
    row = session.connection().execute(_CLAIM, {"b_id": event_id, "b_lease_until": now + lease}).first()
    if row is None:
        return None
    received = row.received_at.replace(tzinfo=UTC) if row.received_at.tzinfo is None else row.received_at
    return Claimed(row.source, dict(row.payload), row.attempts, received)


def finish(session: Session, event_id: int, status: str, now: datetime, error: str | None = None, *,
           attempted: bool = False) -> None:
    """Close an event (done, stale, invalid, failed) and its outbox row, or mark it for a retry.

    ``attempted``: count an attempt here, for a failed attempt whose claim was rolled back with its work."""
    closed = status != "retry"
    conn = session.connection()
    conn.execute(_FINISH_ATTEMPT if attempted else _FINISH, {
        "b_id": event_id, "b_status": status, "b_error": error, "b_processed_at": now if closed else None})
    if closed:
        conn.execute(_OUTBOX_DONE, {"b_id": event_id})


@dataclass(frozen=True)
class FailedEvent:
    """A parked event, as ``salonbridge events failed`` lists it."""

    id: int
    tenant: str
    source: str
    booking_id: str | None
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    error: str | None


def booking_id(source: str, payload: dict[str, Any]) -> str | None:
    """The booking (or, for amoCRM changes, the lead or task) an event is about."""
    booking = payload.get("booking")
    if isinstance(booking, dict) and booking.get("external_id") is not None:
        return str(booking["external_id"])
    for key in ("lead_id", "task_id"):
        if payload.get(key) is not None:
            return f"{key.removesuffix('_id')} {payload[key]}"
    return None


def failed_events(store: Store, tenant: str | None = None, limit: int = 1000) -> list[FailedEvent]:
    """Parked events, oldest first (optionally of one tenant)."""
    query = select(InboundEvent).where(InboundEvent.status == FAILED).order_by(InboundEvent.id).limit(limit)
    if tenant:
        query = query.where(InboundEvent.tenant == tenant)
    with store.session() as s:
        return [FailedEvent(e.id, e.tenant, e.source, booking_id(e.source, e.payload or {}), e.attempts,
                            e.received_at, e.processed_at, e.error) for e in s.scalars(query)]


def reopen(store: Store, event_ids: Sequence[int] | None, now: datetime, tenant: str | None = None) -> list[int]:
    """Give parked events a fresh set of attempts (all parked ones when ``event_ids`` is None); returns
    the ids reopened. Their outbox rows are owed again, so the sweeper queues them even if the caller
    cannot reach Redis."""
    with store.session() as s:
        query = select(InboundEvent.id).where(InboundEvent.status == FAILED)
        if event_ids is not None:
            query = query.where(InboundEvent.id.in_(list(event_ids)))
        if tenant:
            query = query.where(InboundEvent.tenant == tenant)
        ids = list(s.scalars(query.order_by(InboundEvent.id)))
        if ids:
            s.execute(update(InboundEvent).where(InboundEvent.id.in_(ids))
                      .values(status="received", attempts=0, lease_until=None, processed_at=None))
            s.execute(update(OutboxRow).where(OutboxRow.event_id.in_(ids))
                      .values(state="pending", created_at=now))
        return ids
