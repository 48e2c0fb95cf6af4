"""The playbook's stored state (cycles, leads, win-back steps, messages) read back as one Snapshot.

The rules in ``pipelines`` decide from a Snapshot and return actions; their bookkeeping is written
back by ``bridge.store.effects`` in the same transaction, so the next event or clock tick sees it.
A snapshot costs the same fixed number of queries whatever the client's history.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from bridge.store import links
from bridge.store.models import (
    AppliedAction,
    Client,
    CycleRow,
    LeadRow,
    LostStepRow,
    MessageRow,
    PrepaymentRow,
    ReconnectContactRow,
    Visit,
    VisitService,
)
from bridge.store.visits import visit_state
from pipelines.events import BookingStatus
from pipelines.snapshot import (
    ClientState,
    Cycle,
    LeadState,
    LeadStatus,
    LostProgress,
    LostStep,
    PrepaymentState,
    ReconnectContact,
    Snapshot,
    TaskState,
    VisitState,
)
from pipelines.stages import Pipeline

ACTIVE_MESSAGE_STATES = ("scheduled", "sent")
CLIENT = bindparam("client_id")
# Built once: a snapshot is read for every event and every clock evaluation, so the statements are not
# rebuilt (and their clauses re-coerced) each time; only the client id changes.
_VISITS = (
    select(Visit.id, Visit.external_id, Visit.status, Visit.start_at, Visit.staff_id, Visit.version, Visit.categories,
           Visit.staff_name, Visit.branch, Visit.total_price, VisitService.title)
    .outerjoin(VisitService, VisitService.visit_id == Visit.id)
    .where(Visit.client_id == CLIENT)
    .order_by(Visit.start_at, Visit.external_id, VisitService.position)
)
_MESSAGES = select(MessageRow.template, MessageRow.marketing, MessageRow.state, MessageRow.sent_at,
                   MessageRow.send_at).where(MessageRow.client_id == CLIENT,
                                             or_(MessageRow.marketing.is_(True), MessageRow.template == "welcome"))
_CYCLES = (
    select(CycleRow.category, CycleRow.anchor_visit_id, CycleRow.due_at, CycleRow.period_days, CycleRow.task_key,
           CycleRow.task_state, CycleRow.cancelled_by, CycleRow.task_exists, CycleRow.service, CycleRow.master)
    .where(CycleRow.client_id == CLIENT, CycleRow.closed_at.is_(None)).order_by(CycleRow.id)
)
_LEADS = (select(LeadRow.key, LeadRow.pipeline, LeadRow.stage, LeadRow.status, LeadRow.manual)
          .where(LeadRow.client_id == CLIENT).order_by(LeadRow.id))
_LOST = (select(LostStepRow.anchor_visit_id, LostStepRow.lead_key, LostStepRow.step, LostStepRow.at)
         .where(LostStepRow.client_id == CLIENT).order_by(LostStepRow.id.desc()).limit(1))
_APPLIED = select(AppliedAction.key).where(AppliedAction.client_id == CLIENT)
_RECONNECT = (select(ReconnectContactRow.key, ReconnectContactRow.category, ReconnectContactRow.branch,
                     ReconnectContactRow.channels, ReconnectContactRow.contacted_at, ReconnectContactRow.follow_up_at)
              .where(ReconnectContactRow.client_id == CLIENT, ReconnectContactRow.follow_up_state == "pending")
              .order_by(ReconnectContactRow.id))


def snapshot_for(
    session: Session, client: Client | None, visit: Visit | None, *, with_applied: bool = True,
    with_prepayments: bool = False,
) -> Snapshot:
    """Everything the rules may consult about one client (and the event's booking, if stored).

    Seven plain-row queries for a client, however many visits, cycles and actions it has: its visits
    with their services, open cycles, leads, the latest win-back step, applied keys, messages and open
    Reconnect follow-ups.
    ``with_applied`` False leaves the keys out, for a caller whose recording drops known keys itself;
    ``with_prepayments`` adds one query, for tenants that take prepayments.
    """
    if client is None or client.id is None:
        return Snapshot(visit=visit_state(visit) if visit else None)
    states = _visits(session, client.id)
    stored_visit = None
    if visit is not None:
        stored_visit = next((s for s in states if s.external_id == visit.external_id), None) or visit_state(visit)
    welcome_sent, marketing = _messages(session, client.id)
    return Snapshot(
        visit=stored_visit,
        client_visits=states,
        client=ClientState(
            id=str(client.id),
            name=client.name,
            reachable=bool(client.phone or client.email),
            opted_out=client.opted_out,
            has_completed_visit=any(v.status is BookingStatus.COMPLETED for v in states),
            welcome_sent=welcome_sent,
            acquisition=client.acquisition,
        ),
        cycles=_open_cycles(session, client.id),
        leads=_leads(session, client.id),
        lost=_lost(session, client.id),
        applied=frozenset(session.scalars(_APPLIED, {"client_id": client.id})) if with_applied else frozenset(),
        marketing_sent_at=marketing,
        prepayments=_prepayments(session, client.id) if with_prepayments else (),
        reconnect=_reconnect(session, client.id),
    )


def _visits(session: Session, client_id: int) -> tuple[VisitState, ...]:
    """The client's visits with their service titles, in one query (visits joined to their lines)."""
    rows = session.execute(_VISITS, {"client_id": client_id})
    titles: dict[int, list[str]] = {}
    first: dict[int, Any] = {}
    for row in rows:
        first.setdefault(row.id, row)
        lines = titles.setdefault(row.id, [])
        if row.title is not None:
            lines.append(row.title)
    return tuple(
        VisitState(external_id=r.external_id, status=BookingStatus(r.status), start_at=r.start_at,
                   staff_id=r.staff_id, version=r.version, categories=tuple(r.categories or ()),
                   staff_name=r.staff_name, branch=r.branch, services=tuple(titles[r.id]),
                   price=r.total_price)
        for r in first.values()
    )


def _messages(session: Session, client_id: int) -> tuple[bool, tuple]:
    """Whether the welcome went out (or is scheduled), and the times of marketing messages sent or due."""
    rows = session.execute(_MESSAGES, {"client_id": client_id}).all()
    welcomed = any(r.template == "welcome" for r in rows)
    marketing = tuple(r.sent_at or r.send_at for r in rows if r.marketing and r.state in ACTIVE_MESSAGE_STATES)
    return welcomed, marketing


def _reconnect(session: Session, client_id: int) -> tuple[ReconnectContact, ...]:
    """Reconnect contacts whose follow-up is still to be decided (an indexed read; usually none)."""
    return tuple(
        ReconnectContact(key=r.key, category=r.category, branch=r.branch, channels=tuple(r.channels or ()),
                         contacted_at=r.contacted_at, follow_up_at=r.follow_up_at)
        for r in session.execute(_RECONNECT, {"client_id": client_id})
    )


def _open_cycles(session: Session, client_id: int) -> tuple[Cycle, ...]:
    rows = session.execute(_CYCLES, {"client_id": client_id})
    return tuple(
        Cycle(category=r.category, anchor_visit_id=r.anchor_visit_id, due_at=r.due_at, period_days=r.period_days,
              task_key=r.task_key, task_state=TaskState(r.task_state), cancelled_by=r.cancelled_by,
              task_exists=r.task_exists, service=r.service, master=r.master)
        for r in rows
    )


def _leads(session: Session, client_id: int) -> tuple[LeadState, ...]:
    rows = session.execute(_LEADS, {"client_id": client_id})
    return tuple(
        LeadState(key=r.key, pipeline=Pipeline(r.pipeline), stage=r.stage, status=LeadStatus(r.status), manual=r.manual)
        for r in rows
    )


def _lost(session: Session, client_id: int) -> LostProgress | None:
    row = session.execute(_LOST, {"client_id": client_id}).first()
    if row is None:
        return None
    return LostProgress(anchor_visit_id=row.anchor_visit_id, lead_key=row.lead_key, step=LostStep(row.step),
                        step_at=row.at)


def _prepayments(session: Session, client_id: int) -> tuple[PrepaymentState, ...]:
    """The latest attempt of each of the client's bookings."""
    latest: dict[str, PrepaymentRow] = {}
    for row in session.scalars(select(PrepaymentRow).where(PrepaymentRow.client_id == client_id)
                               .order_by(PrepaymentRow.booking_id, PrepaymentRow.attempt)):
        latest[row.booking_id] = row
    return tuple(prepayment_state(row) for row in latest.values())


def prepayment_state(row: PrepaymentRow) -> PrepaymentState:
    return PrepaymentState(row.booking_id, row.attempt, row.order_ref, row.status, row.amount, row.currency,
                           row.deadline_at, row.receipt_number, row.branch)


def lead_linked_to(session: Session, tenant: str, amo_id: int) -> LeadRow | None:
    """Our lead row behind an amoCRM lead id (amoCRM's webhooks name leads by their ids)."""
    key = links.find_local(session, tenant, "lead", amo_id)
    return session.scalar(select(LeadRow).where(LeadRow.tenant == tenant, LeadRow.key == key)) if key else None


def cycle_of_task(session: Session, tenant: str, amo_task_id: int) -> CycleRow | None:
    """The cycle whose autotask is this amoCRM task."""
    key = links.find_local(session, tenant, "task", amo_task_id)
    return session.scalar(select(CycleRow).where(CycleRow.tenant == tenant, CycleRow.task_key == key)) if key else None


def manual_leads(session: Session, tenant: str, keys: list[str]) -> set[str]:
    """Which of these leads a person moved last (the robot makes no more moves on them)."""
    if not keys:
        return set()
    return set(session.scalars(
        select(LeadRow.key).where(LeadRow.tenant == tenant, LeadRow.key.in_(keys), LeadRow.manual.is_(True))
    ))
