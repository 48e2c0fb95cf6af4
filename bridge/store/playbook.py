"""The playbook's stored state (cycles, leads, win-back steps, messages) read back as one Snapshot.

The rules in ``pipelines`` decide from a Snapshot and return actions; their bookkeeping is written
back by ``bridge.store.effects`` in the same transaction, so the next event or clock tick sees it.
A snapshot costs the same fixed number of queries whatever the client's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
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
    UTCDateTime,
    Visit,
    VisitService,
)
from bridge.store.visits import StoredClient, StoredVisit, visit_state
from pipelines.events import BookingStatus, ServiceLine
from pipelines.fold import HISTORY
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
# Table columns, not ORM attributes: plain rows come back without the ORM's per-row bookkeeping.
_V, _VS = Visit.__table__.c, VisitService.__table__.c
_VISIT_COLUMNS = (_V.id, _V.external_id, _V.status, _V.start_at, _V.staff_id, _V.version, _V.categories,
                  _V.staff_name, _V.branch, _V.total_price, _V.goods, _V.booked_at)
# SQLite: the visits joined to their lines, a row per line (its planner always walks the lines' index).
_VISITS = (
    select(*_VISIT_COLUMNS, _VS.title, _VS.external_id.label("line_id"), _VS.category.label("line_category"))
    .select_from(Visit.__table__.outerjoin(VisitService.__table__, _VS.visit_id == _V.id))
    .where(_V.client_id == CLIENT)
    .order_by(_V.start_at, _V.external_id, _VS.position)
)
# PostgreSQL: a row per visit with its titles gathered by a correlated subquery, which is always an index
# lookup per visit. The join above is planned from table statistics; on a store not analyzed since a bulk
# load PostgreSQL hashes it over a scan of every line of the salon (27 ms a snapshot at 100,000 clients).
def _lines_of_visit(column: Any, label: str) -> Any:
    return (select(func.array_agg(aggregate_order_by(column, _VS.position)))
            .where(_VS.visit_id == _V.id).scalar_subquery().label(label))


_VISITS_PG = (
    select(*_VISIT_COLUMNS, _lines_of_visit(_VS.title, "titles"), _lines_of_visit(_VS.external_id, "line_ids"),
           _lines_of_visit(_VS.category, "line_categories"))
    .where(_V.client_id == CLIENT)
    .order_by(_V.start_at, _V.external_id)
)
_APPLIED = select(AppliedAction.__table__.c.key).where(AppliedAction.__table__.c.client_id == CLIENT)


def _state_part(kind: str, order: Any, where: Any, **slots: Any) -> Select:
    """One table's rows in the common column layout of ``_STATE`` (unused slots are typed NULLs)."""
    columns = [literal(kind, String).label("kind"), order.label("ord")]
    for name, kind_of_slot in _SLOTS.items():
        columns.append((slots[name] if name in slots else cast(null(), kind_of_slot)).label(name))
    return select(*columns).where(where)


_SLOTS: dict[str, Any] = {**{f"s{i}": String() for i in range(1, 9)}, "t1": UTCDateTime(), "t2": UTCDateTime(),
                          "n": Integer(), "b": Boolean(), "j": JSON()}
_C, _L, _S, _M, _R = (m.__table__.c for m in (CycleRow, LeadRow, LostStepRow, MessageRow, ReconnectContactRow))
# The client's playbook state in ONE statement, whatever it holds: cycles (open and closed), leads, the latest win-back
# step, welcome and marketing messages, and Reconnect contacts whose follow-up is still to be decided.
_STATE = union_all(
    _state_part("cycle", _C.id, _C.client_id == CLIENT,
                s1=_C.category, s2=_C.anchor_visit_id, s3=_C.task_key, s4=_C.task_state, s5=_C.cancelled_by,
                s6=_C.service, s7=_C.master, s8=_C.close_reason, t1=_C.due_at, t2=_C.closed_at, n=_C.period_days,
                b=_C.task_exists),
    _state_part("lead", _L.id, _L.client_id == CLIENT,
                s1=_L.key, s2=_L.pipeline, s3=_L.stage, s4=_L.status, b=_L.manual),
    _state_part("lost", _S.id,
                _S.id == select(func.max(_S.id)).where(_S.client_id == CLIENT).scalar_subquery(),
                s1=_S.anchor_visit_id, s2=_S.lead_key, s3=_S.step, t1=_S.at),
    _state_part("message", _M.id,
                (_M.client_id == CLIENT) & or_(_M.marketing.is_(True), _M.template == "welcome"),
                s1=_M.template, s2=_M.state, t1=_M.sent_at, t2=_M.send_at, b=_M.marketing),
    _state_part("reconnect", _R.id,
                (_R.client_id == CLIENT) & (_R.follow_up_state == "pending"),
                s1=_R.key, s2=_R.category, s3=_R.branch, t1=_R.contacted_at, t2=_R.follow_up_at, j=_R.channels),
).order_by("kind", "ord")


def snapshot_for(
    session: Session, client: Client | StoredClient | None, visit: StoredVisit | None, *, with_applied: bool = True,
    with_prepayments: bool = False,
) -> Snapshot:
    """Everything the rules may consult about one client (and the event's booking, if stored).

    Two plain-row queries for a client, however many visits, cycles and actions it has: its visits
    with their services, and everything else the rules read (open cycles, leads, the latest win-back
    step, welcome and marketing messages, open Reconnect follow-ups) as one UNION ALL; plus one for
    the applied keys when asked.
    ``with_applied`` False leaves the keys out, for a caller whose recording drops known keys itself;
    ``with_prepayments`` adds one query, for tenants that take prepayments.
    """
    if client is None or client.id is None:
        return Snapshot(visit=visit_state(visit, visit.rule_lines) if visit else None)
    session.flush()  # the reads below are plain statements on the session's connection: no autoflush
    conn = session.connection()
    states = _visits(conn, client.id)
    stored_visit = None
    if visit is not None:
        stored_visit = next((s for s in states if s.external_id == visit.external_id), None) \
            or visit_state(visit, visit.rule_lines)
    state: dict[str, list[Any]] = {"cycle": [], "lead": [], "lost": [], "message": [], "reconnect": []}
    for row in conn.execute(_STATE, {"client_id": client.id}):
        state[row.kind].append(row)
    welcome_sent, marketing = _messages(state["message"])
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
            birthday=client.birthday,
            blacklisted=bool(client.blacklisted),
            card_type=client.card_type,
            balance=client.balance,
            tags=tuple(client.tags or ()),
        ),
        cycles=_cycles(r for r in state["cycle"] if r.t2 is None),
        closed_cycles=_cycles(r for r in state["cycle"] if r.t2 is not None),
        leads=_leads(state["lead"]),
        lost=_lost(state["lost"]),
        applied=frozenset(conn.scalars(_APPLIED, {"client_id": client.id})) if with_applied else frozenset(),
        marketing_sent_at=marketing,
        prepayments=_prepayments(session, client.id) if with_prepayments else (),
        reconnect=_reconnect(state["reconnect"]),
    )


def _visits(conn: Connection, client_id: int) -> tuple[VisitState, ...]:
    """The client's visits with their service titles, in one query."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_VISITS_PG, {"client_id": client_id})
        return tuple(visit_state(r, _lines(r.line_ids, r.titles, r.line_categories)) for r in rows)
    rows = conn.execute(_VISITS, {"client_id": client_id})
    lines: dict[int, list[ServiceLine]] = {}
    first: dict[int, Any] = {}
    for row in rows:
        first.setdefault(row.id, row)
        own = lines.setdefault(row.id, [])
        if row.title is not None:
            own.append(ServiceLine(row.line_id, row.title, row.line_category))
    return tuple(visit_state(r, lines[r.id]) for r in first.values())


def _lines(ids: list | None, titles: list | None, categories: list | None) -> list[ServiceLine]:
    return [ServiceLine(*line) for line in zip(ids or (), titles or (), categories or (), strict=True)]


def _messages(rows: list[Any]) -> tuple[bool, tuple]:
    """Whether the welcome went out (or is scheduled), and the times of marketing messages sent or due."""
    welcomed = any(r.s1 == "welcome" for r in rows)
    marketing = tuple(r.t1 or r.t2 for r in rows if r.b and r.s2 in ACTIVE_MESSAGE_STATES)
    return welcomed, marketing


def _reconnect(rows: list[Any]) -> tuple[ReconnectContact, ...]:
    """Reconnect contacts whose follow-up is still to be decided (usually none)."""
    return tuple(ReconnectContact(key=r.s1, category=r.s2, branch=r.s3, channels=tuple(r.j or ()),
                                  contacted_at=r.t1, follow_up_at=r.t2) for r in rows)


def _cycles(rows: Iterable[Any]) -> tuple[Cycle, ...]:
    """Cycles as stored; one closed as history (an import's, long over) never had a task."""
    return tuple(
        Cycle(category=r.s1, anchor_visit_id=r.s2, due_at=r.t1, period_days=r.n, task_key=r.s3,
              task_state=TaskState(r.s4), cancelled_by=r.s5, task_exists=r.b and not (r.s8 or "").startswith(HISTORY),
              service=r.s6, master=r.s7)
        for r in rows
    )


def _leads(rows: list[Any]) -> tuple[LeadState, ...]:
    return tuple(
        LeadState(key=r.s1, pipeline=Pipeline(r.s2), stage=r.s3, status=LeadStatus(r.s4), manual=r.b)
        for r in rows
    )


def _lost(rows: list[Any]) -> LostProgress | None:
    if not rows:
        return None
    row = rows[0]
    return LostProgress(anchor_visit_id=row.s1, lead_key=row.s2, step=LostStep(row.s3), step_at=row.t1)


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
