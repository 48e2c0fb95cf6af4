"""The playbook's stored state (cycles, leads, win-back steps, messages) and the snapshot built from it.

The rules in ``pipelines`` decide from a Snapshot and return actions; the bookkeeping actions are
written back here in the same transaction, so the next event or clock tick sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.store.models import AppliedAction, Client, CycleRow, LeadRow, LostStepRow, MessageRow, Visit
from bridge.store.visits import visit_state
from pipelines import actions as act
from pipelines.snapshot import (
    ClientState,
    Cycle,
    LeadState,
    LeadStatus,
    LostProgress,
    LostStep,
    Snapshot,
    TaskState,
)
from pipelines.stages import Outcome, Pipeline

ACTIVE_MESSAGE_STATES = ("scheduled", "sent")


def snapshot_for(session: Session, client: Client | None, visit: Visit | None) -> Snapshot:
    """Everything the rules may consult about one client (and the event's booking, if stored)."""
    stored_visit = visit_state(visit) if visit else None
    if client is None or client.id is None:
        return Snapshot(visit=stored_visit)
    visits = sorted(client.visits, key=lambda v: (v.start_at, v.external_id))
    return Snapshot(
        visit=stored_visit,
        client_visits=tuple(visit_state(v) for v in visits),
        client=_client_state(session, client, visits),
        cycles=_open_cycles(session, client),
        leads=_leads(session, client),
        lost=_lost(session, client),
        applied=frozenset(
            session.scalars(select(AppliedAction.key).where(AppliedAction.client_id == client.id))
        ),
        marketing_sent_at=tuple(
            sent or at
            for sent, at in session.execute(
                select(MessageRow.sent_at, MessageRow.send_at).where(
                    MessageRow.client_id == client.id,
                    MessageRow.marketing.is_(True),
                    MessageRow.state.in_(ACTIVE_MESSAGE_STATES),
                )
            )
        ),
    )


def _client_state(session: Session, client: Client, visits: list[Visit]) -> ClientState:
    welcomed = session.scalar(
        select(MessageRow.id).where(MessageRow.client_id == client.id, MessageRow.template == "welcome").limit(1)
    )
    return ClientState(
        id=str(client.id),
        name=client.name,
        reachable=bool(client.phone or client.email),
        opted_out=client.opted_out,
        has_completed_visit=any(v.status == "completed" for v in visits),
        welcome_sent=welcomed is not None,
    )


def _open_cycles(session: Session, client: Client) -> tuple[Cycle, ...]:
    rows = session.scalars(
        select(CycleRow).where(CycleRow.client_id == client.id, CycleRow.closed_at.is_(None)).order_by(CycleRow.id)
    )
    return tuple(
        Cycle(
            category=r.category,
            anchor_visit_id=r.anchor_visit_id,
            due_at=r.due_at,
            period_days=r.period_days,
            task_key=r.task_key,
            task_state=TaskState(r.task_state),
            cancelled_by=r.cancelled_by,
            task_exists=r.task_exists,
            service=r.service,
            master=r.master,
        )
        for r in rows
    )


def _leads(session: Session, client: Client) -> tuple[LeadState, ...]:
    rows = session.scalars(select(LeadRow).where(LeadRow.client_id == client.id).order_by(LeadRow.id))
    return tuple(
        LeadState(key=r.key, pipeline=Pipeline(r.pipeline), stage=r.stage, status=LeadStatus(r.status), manual=r.manual)
        for r in rows
    )


def _lost(session: Session, client: Client) -> LostProgress | None:
    row = session.scalar(
        select(LostStepRow).where(LostStepRow.client_id == client.id).order_by(LostStepRow.id.desc()).limit(1)
    )
    if row is None:
        return None
    return LostProgress(anchor_visit_id=row.anchor_visit_id, lead_key=row.lead_key, step=LostStep(row.step),
                        step_at=row.at)


# -- writing the bookkeeping back ----------------------------------------------------------------------------

Writer = Callable[[Session, str, int, Any, datetime], None]


def _record_visit(s: Session, tenant: str, client_id: int, a: act.RecordVisit, now: datetime) -> None:
    s.execute(
        update(Visit)
        .where(Visit.tenant == tenant, Visit.external_id == a.booking_id, Visit.client_id == client_id)
        .values(categories=list(a.categories))
    )


def _open_cycle(s: Session, tenant: str, client_id: int, a: act.OpenCycle, now: datetime) -> None:
    s.add(CycleRow(
        tenant=tenant, client_id=client_id, category=a.category, anchor_visit_id=a.anchor_visit_id, due_at=a.due_at,
        period_days=a.period_days, task_key=a.task_key, task_state=a.task_state.value, cancelled_by=a.cancelled_by,
        task_exists=a.task_exists, service=a.service, master=a.master, updated_at=now,
    ))


def _cycle(s: Session, client_id: int, category: str, anchor: str) -> Any:
    return update(CycleRow).where(
        CycleRow.client_id == client_id, CycleRow.category == category, CycleRow.anchor_visit_id == anchor
    )


def _update_cycle(s: Session, tenant: str, client_id: int, a: act.UpdateCycle, now: datetime) -> None:
    s.execute(_cycle(s, client_id, a.category, a.anchor_visit_id).values(
        task_state=a.task_state.value, cancelled_by=a.cancelled_by, task_exists=a.task_exists, updated_at=now
    ))


def _close_cycle(s: Session, tenant: str, client_id: int, a: act.CloseCycle, now: datetime) -> None:
    s.execute(_cycle(s, client_id, a.category, a.anchor_visit_id).values(
        closed_at=now, close_reason=a.reason, updated_at=now
    ))


def _lost_step(s: Session, tenant: str, client_id: int, a: act.RecordLostStep, now: datetime) -> None:
    s.add(LostStepRow(tenant=tenant, client_id=client_id, anchor_visit_id=a.anchor_visit_id, lead_key=a.lead_key,
                      step=a.step.value, at=a.at))


def _create_lead(s: Session, tenant: str, client_id: int, a: act.CreateLead, now: datetime) -> None:
    s.add(LeadRow(tenant=tenant, client_id=client_id, key=a.key, pipeline=a.pipeline.value, stage=a.stage,
                  status="open", updated_at=now))


def _move_lead(s: Session, tenant: str, client_id: int, a: act.MoveLead, now: datetime) -> None:
    status = {Outcome.WON: "won", Outcome.LOST: "lost"}.get(a.outcome, "open")
    s.execute(update(LeadRow).where(LeadRow.tenant == tenant, LeadRow.key == a.lead_key).values(
        stage=a.stage, status=status, updated_at=now
    ))


def _schedule_message(s: Session, tenant: str, client_id: int, a: act.SendMessage, now: datetime) -> None:
    s.add(MessageRow(
        tenant=tenant, client_id=client_id, key=a.key, template=a.template, language=a.language,
        occasion=a.occasion, channels=list(a.channels), context=dict(a.context), send_at=a.send_at or now,
        marketing=a.marketing, booking_id=a.booking_id, created_at=now,
    ))


def _cancel_message(s: Session, tenant: str, client_id: int, a: act.CancelMessage, now: datetime) -> None:
    s.execute(update(MessageRow).where(
        MessageRow.client_id == client_id, MessageRow.template == a.template,
        MessageRow.booking_id == a.booking_id, MessageRow.state == "scheduled",
    ).values(state="cancelled", error=a.reason))


WRITERS: dict[type, Writer] = {
    act.RecordVisit: _record_visit,
    act.OpenCycle: _open_cycle,
    act.UpdateCycle: _update_cycle,
    act.CloseCycle: _close_cycle,
    act.RecordLostStep: _lost_step,
    act.CreateLead: _create_lead,
    act.MoveLead: _move_lead,
    act.SendMessage: _schedule_message,
    act.CancelMessage: _cancel_message,
}
# Applied to amoCRM afterwards by the CRM sync job; everything else is complete once written here.
CRM_KINDS = frozenset(k.__name__ for k in (
    act.UpsertContact, act.CreateLead, act.MoveLead, act.UpdateFields, act.CreateTask, act.CompleteTask,
    act.RestoreTask, act.AddNote,
))


def write_local(session: Session, tenant: str, client_id: int | None, action: act.Action, now: datetime) -> None:
    """Apply an action's effect on our own store (a no-op for pure amoCRM actions and Skip)."""
    writer = WRITERS.get(type(action))
    if writer is not None and client_id is not None:
        writer(session, tenant, client_id, action, now)
