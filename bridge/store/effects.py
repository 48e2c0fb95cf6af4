"""What each action does: its effect on our own store, and the amoCRM phase that carries it out.

This is the one table to extend when the domain gains an action type: a local writer (the bookkeeping
written in the same transaction that records the plan), an amoCRM phase (the sync job applies it
afterwards, in phase order), both, or neither (Skip). ``CRM_KINDS`` is derived from it, and a test
checks that every action type of ``pipelines.actions`` is declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from bridge.store import prepayments
from bridge.store.models import CycleRow, LeadRow, LostStepRow, MessageRow, ReconnectContactRow
from pipelines import actions as act
from pipelines.prepayment import Outcome as PaymentOutcome
from pipelines.prepayment import PrepaymentStatus, StatusChange
from pipelines.stages import Outcome


class CrmPhase(IntEnum):
    """amoCRM phases in dependency order: a lead needs its contact, a task its lead, and so on."""

    CONTACTS = 1
    LEADS = 2
    UPDATES = 3  # lead moves and custom fields, folded per entity
    TASKS = 4
    TASK_STATES = 5  # complete (cancelled by a booking) or restore
    NOTES = 6


Writer = Callable[[Session, str, int, Any, datetime], None]


@dataclass(frozen=True)
class Effect:
    local: Writer | None = None
    crm: CrmPhase | None = None
    booking: bool = False  # carried out in the salon's booking system by ``jobs.booking_commands``


# Table-level statements built once, run as plain SQL in the caller's transaction: one statement per
# effect, without the ORM's unit of work (which would hold inserts back and re-evaluate every update).
_CYCLES, _LEADS, _MESSAGES, _CONTACTS = (m.__table__ for m in (CycleRow, LeadRow, MessageRow, ReconnectContactRow))
_ONE_CYCLE = ((_CYCLES.c.client_id == bindparam("b_client")) & (_CYCLES.c.category == bindparam("b_category"))
              & (_CYCLES.c.anchor_visit_id == bindparam("b_anchor")))
_UPDATE_CYCLE = update(_CYCLES).where(_ONE_CYCLE)
_MOVE_LEAD = update(_LEADS).where(_LEADS.c.tenant == bindparam("b_tenant"), _LEADS.c.key == bindparam("b_key"))
_SCHEDULED = (_MESSAGES.c.client_id == bindparam("b_client")) & (_MESSAGES.c.template == bindparam("b_template")) \
    & (_MESSAGES.c.state == "scheduled")
_CANCEL_FOR_BOOKING = update(_MESSAGES).where(_SCHEDULED, _MESSAGES.c.booking_id == bindparam("b_booking")).values(
    state="cancelled", error=bindparam("b_reason"))
_CANCEL_UNBOOKED = update(_MESSAGES).where(_SCHEDULED, _MESSAGES.c.booking_id.is_(None)).values(
    state="cancelled", error=bindparam("b_reason"))
_FOLLOW_UP = update(_CONTACTS).where(_CONTACTS.c.tenant == bindparam("b_tenant"),
                                     _CONTACTS.c.key == bindparam("b_key"))


_INSERTS: dict[str, Any] = {}  # by table name, built on first use


def _insert(s: Session, table: Any, **row: Any) -> None:
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = insert(table)
    s.execute(statement, row)


def _open_cycle(s: Session, tenant: str, client_id: int, a: act.OpenCycle, now: datetime) -> None:
    _insert(s, _CYCLES,
            tenant=tenant, client_id=client_id, category=a.category, anchor_visit_id=a.anchor_visit_id,
            due_at=a.due_at, period_days=a.period_days, task_key=a.task_key, task_state=a.task_state.value,
            cancelled_by=a.cancelled_by, task_exists=a.task_exists, service=a.service, master=a.master,
            updated_at=now)


def _cycle(client_id: int, a: act.UpdateCycle | act.CloseCycle) -> dict[str, Any]:
    return {"b_client": client_id, "b_category": a.category, "b_anchor": a.anchor_visit_id}


def _update_cycle(s: Session, tenant: str, client_id: int, a: act.UpdateCycle, now: datetime) -> None:
    s.execute(_UPDATE_CYCLE, {**_cycle(client_id, a), "task_state": a.task_state.value,
                              "cancelled_by": a.cancelled_by, "task_exists": a.task_exists, "updated_at": now})


def _close_cycle(s: Session, tenant: str, client_id: int, a: act.CloseCycle, now: datetime) -> None:
    s.execute(_UPDATE_CYCLE, {**_cycle(client_id, a), "closed_at": now, "close_reason": a.reason, "updated_at": now})


def _lost_step(s: Session, tenant: str, client_id: int, a: act.RecordLostStep, now: datetime) -> None:
    _insert(s, LostStepRow.__table__, tenant=tenant, client_id=client_id, anchor_visit_id=a.anchor_visit_id,
            lead_key=a.lead_key, step=a.step.value, at=a.at)


def _create_lead(s: Session, tenant: str, client_id: int, a: act.CreateLead, now: datetime) -> None:
    _insert(s, _LEADS, tenant=tenant, client_id=client_id, key=a.key, pipeline=a.pipeline.value, stage=a.stage,
            status="open", manual=False, updated_at=now)


def _move_lead(s: Session, tenant: str, client_id: int, a: act.MoveLead, now: datetime) -> None:
    status = {Outcome.WON: "won", Outcome.LOST: "lost"}.get(a.outcome, "open")
    s.execute(_MOVE_LEAD, {"b_tenant": tenant, "b_key": a.lead_key, "stage": a.stage, "status": status,
                           "updated_at": now})


def _schedule_message(s: Session, tenant: str, client_id: int, a: act.SendMessage, now: datetime) -> None:
    _insert(s, _MESSAGES,
            tenant=tenant, client_id=client_id, key=a.key, template=a.template, language=a.language,
            occasion=a.occasion, channels=list(a.channels), context=dict(a.context), send_at=a.send_at or now,
            marketing=a.marketing, booking_id=a.booking_id, state="scheduled", attempts=0, created_at=now)


def _cancel_message(s: Session, tenant: str, client_id: int, a: act.CancelMessage, now: datetime) -> None:
    params = {"b_client": client_id, "b_template": a.template, "b_reason": a.reason}
    if a.booking_id is None:
        s.execute(_CANCEL_UNBOOKED, params)
    else:
        s.execute(_CANCEL_FOR_BOOKING, {**params, "b_booking": a.booking_id})


def _request_prepayment(s: Session, tenant: str, client_id: int, a: act.RequestPrepayment, now: datetime) -> None:
    prepayments.create_attempt(
        s, tenant=tenant, booking_id=a.booking_id, provider=a.provider, amount=a.amount, currency=a.currency,
        deadline_at=a.deadline_at, now=now, client_id=client_id, rule=a.rule, branch=a.branch, visit_at=a.visit_at,
        description=a.description,
    )


def _change_prepayment(s: Session, tenant: str, client_id: int, a: act.ChangePrepayment, now: datetime) -> None:
    row = prepayments.latest_for_booking(s, tenant, a.booking_id, lock=True)
    if row is None or row.attempt != a.attempt or row.status != a.old_status:
        return  # a callback moved it first; its own change said what to do
    change = StatusChange(PrepaymentStatus(a.old_status), PrepaymentStatus(a.new_status),
                          PaymentOutcome.APPLIED if a.old_status != a.new_status else PaymentOutcome.NO_CHANGE, a.alert)
    prepayments.apply_change(s, row, change, now)


def _reconnect_contact(s: Session, tenant: str, client_id: int, a: act.RecordReconnectContact, now: datetime) -> None:
    _insert(s, _CONTACTS,
            tenant=tenant, key=a.key, campaign=a.campaign, client_id=client_id, category=a.category, branch=a.branch,
            channels=list(a.channels), message_keys=list(a.message_keys), last_visit=date.fromisoformat(a.last_visit),
            days_late=a.days_late, contacted_at=a.contacted_at, follow_up_at=a.follow_up_at,
            follow_up_state="pending" if a.follow_up_at else "none")


def _reconnect_follow_up(s: Session, tenant: str, client_id: int, a: act.RecordReconnectFollowUp,
                         now: datetime) -> None:
    s.execute(_FOLLOW_UP, {"b_tenant": tenant, "b_key": a.contact_key, "follow_up_state": a.state,
                           "follow_up_reason": a.reason or None})


EFFECTS: dict[type[act.Action], Effect] = {
    act.RecordVisit: Effect(),  # written with the visit itself (``bridge.store.visits.upsert_visit``)
    act.UpsertContact: Effect(crm=CrmPhase.CONTACTS),
    act.CreateLead: Effect(local=_create_lead, crm=CrmPhase.LEADS),
    act.MoveLead: Effect(local=_move_lead, crm=CrmPhase.UPDATES),
    act.UpdateFields: Effect(crm=CrmPhase.UPDATES),
    act.CreateTask: Effect(crm=CrmPhase.TASKS),
    act.CompleteTask: Effect(crm=CrmPhase.TASK_STATES),
    act.RestoreTask: Effect(crm=CrmPhase.TASK_STATES),
    act.AddNote: Effect(crm=CrmPhase.NOTES),
    act.SendMessage: Effect(local=_schedule_message),
    act.CancelMessage: Effect(local=_cancel_message),
    act.OpenCycle: Effect(local=_open_cycle),
    act.UpdateCycle: Effect(local=_update_cycle),
    act.CloseCycle: Effect(local=_close_cycle),
    act.RecordLostStep: Effect(local=_lost_step),
    act.RequestPrepayment: Effect(local=_request_prepayment),
    act.ChangePrepayment: Effect(local=_change_prepayment),
    act.UpdateBooking: Effect(booking=True),
    act.RecordReconnectContact: Effect(local=_reconnect_contact),
    act.RecordReconnectFollowUp: Effect(local=_reconnect_follow_up),
    act.Skip: Effect(),
}
CRM_KINDS = frozenset(kind.__name__ for kind, effect in EFFECTS.items() if effect.crm is not None)
BOOKING_KINDS = frozenset(kind.__name__ for kind, effect in EFFECTS.items() if effect.booking)


def effect_of(action: act.Action) -> Effect:
    return EFFECTS[type(action)]


def write_local(session: Session, tenant: str, client_id: int | None, action: act.Action, now: datetime) -> None:
    """Apply an action's effect on our own store (nothing for pure amoCRM actions and Skip)."""
    writer = effect_of(action).local
    if writer is not None and client_id is not None:
        writer(session, tenant, client_id, action, now)
