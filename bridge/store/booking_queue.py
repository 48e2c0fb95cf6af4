"""What waits to be told to the salon's booking system (``UpdateBooking`` actions), and each outcome.

They are recorded ``pending`` in ``applied_actions`` like amoCRM work, but apart from it (their kinds are
``effects.BOOKING_KINDS``; the amoCRM queue reads only ``CRM_KINDS``), and carried out by
``jobs.booking_commands``. A command the booking system cannot take is closed with the reason, and the
staff task it names (``fallback_task``) is recorded in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bridge.store import actions
from bridge.store.db import Store
from bridge.store.effects import BOOKING_KINDS
from bridge.store.models import AppliedAction
from pipelines.actions import Action, CreateTask, TaskKind, UpdateBooking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    id: int
    client_id: int | None
    action: UpdateBooking
    attempts: int


def pending(store: Store, tenant: str, limit: int = 100) -> list[Command]:
    with store.session() as s:
        rows = s.execute(select(AppliedAction.id, AppliedAction.client_id, AppliedAction.kind, AppliedAction.payload,
                                AppliedAction.attempts)
                         .where(AppliedAction.state == "pending", AppliedAction.tenant == tenant,
                                AppliedAction.kind.in_(BOOKING_KINDS))
                         .order_by(AppliedAction.id).limit(limit)).all()
    out = []
    for r in rows:
        action = Action.from_dict(r.kind, r.payload)
        assert isinstance(action, UpdateBooking)
        out.append(Command(r.id, r.client_id, action, r.attempts))
    return out


def backlog(store: Store) -> list[str]:
    """Tenants with something waiting for their booking system."""
    with store.session() as s:
        return list(s.scalars(select(AppliedAction.tenant).where(
            AppliedAction.state == "pending", AppliedAction.kind.in_(BOOKING_KINDS)).distinct()))


def done(store: Store, command: Command, now: datetime) -> None:
    with store.session() as s:
        s.execute(update(AppliedAction).where(AppliedAction.id == command.id).values(
            state="done", applied_at=now, attempts=command.attempts + 1))


def retry_later(store: Store, command: Command, error: str) -> None:
    with store.session() as s:
        s.execute(update(AppliedAction).where(AppliedAction.id == command.id).values(
            attempts=command.attempts + 1, error=error[:2000]))


def give_up(store: Store, tenant: str, command: Command, state: str, reason: str, now: datetime) -> bool:
    """Close the command (``failed`` or ``skipped``) with its reason and record its staff task, if any, for
    the next amoCRM sync. Returns whether a task was recorded."""
    action = command.action
    with store.session() as s:
        s.execute(update(AppliedAction).where(AppliedAction.id == command.id).values(
            state=state, applied_at=now, attempts=command.attempts + (state == "failed"), error=reason[:2000]))
        if not action.fallback_task or command.client_id is None:
            return False
        task = CreateTask(key=f"task:{action.key}:by-hand", client_id=action.client_id,
                          task_kind=TaskKind.PREPAYMENT, text=action.fallback_task, deadline=now,
                          lead_key=action.lead_key)
        return bool(actions.record(s, tenant, None, command.client_id, [task], now).fresh)
