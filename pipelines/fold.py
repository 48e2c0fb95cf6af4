"""A plan's bookkeeping folded into the Snapshot it was planned from: the state the store holds once the
plan is recorded, worked out without the store.

``plan`` needs it where one event stands for two steps: a visit first seen already completed (or a no-show)
is planned as its booking's creation and then as its completion, the second step judged against what the
first left (docs/playbook.md, "The order of a client's events"). amoCRM work, messages and Skips change no
state the rules read, apart from the marks noted below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pipelines.actions import (
    Action,
    ChangePrepayment,
    CloseCycle,
    CreateLead,
    MoveLead,
    OpenCycle,
    RecordLostStep,
    RecordVisit,
    RequestPrepayment,
    SendMessage,
    UpdateCycle,
)
from pipelines.events import BookingStatus, VisitEvent, merge_goods
from pipelines.prepayment import order_reference
from pipelines.snapshot import Cycle, LeadState, LeadStatus, LostProgress, PrepaymentState, Snapshot, VisitState
from pipelines.stages import Outcome

_STATUS = {Outcome.OPEN: LeadStatus.OPEN, Outcome.WON: LeadStatus.WON, Outcome.LOST: LeadStatus.LOST}


def fold(snapshot: Snapshot, actions: Iterable[Action], event: VisitEvent, now: datetime) -> Snapshot:
    """``snapshot`` after ``actions`` (planned for ``event`` at ``now``) were recorded; their keys count as
    applied."""
    keys = set(snapshot.applied)
    for action in actions:
        snapshot = _one(snapshot, action, event, now)
        keys.add(action.key)
    return replace(snapshot, applied=frozenset(keys))


def stored_visit(event: VisitEvent, categories: tuple[str, ...], stored: VisitState | None) -> VisitState:
    """The event's booking as ``RecordVisit`` stores it over ``stored`` (the visit as stored so far, whose
    goods stand unless the event reports its own)."""
    b = event.booking
    return VisitState(
        external_id=b.external_id, status=b.status, start_at=b.start_at,
        staff_id=b.staff.external_id if b.staff else None, version=event.occurred_at, categories=categories,
        staff_name=b.staff.name if b.staff else None, branch=b.branch,
        services=tuple(line.title for line in b.services), price=b.total_price,
        goods=merge_goods(stored.goods if stored else (), b.goods, b.goods_reported), lines=b.services,
        booked_at=b.created_at or (stored.booked_at if stored else None),
    )


def _one(s: Snapshot, a: Action, event: VisitEvent, now: datetime) -> Snapshot:
    step = _STEPS.get(type(a))
    return step(s, a, event, now) if step else s


def _visit(s: Snapshot, a: RecordVisit, event: VisitEvent, now: datetime) -> Snapshot:
    visit = stored_visit(event, a.categories, s.visit)
    visits = tuple(v for v in s.client_visits if v.external_id != visit.external_id) + (visit,)
    client = s.client
    if client is not None and visit.status is BookingStatus.COMPLETED:
        client = replace(client, has_completed_visit=True)
    return replace(s, visit=visit, client_visits=visits, client=client)


def _create_lead(s: Snapshot, a: CreateLead, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, leads=(*s.leads, LeadState(a.key, a.pipeline, a.stage)))


def _move_lead(s: Snapshot, a: MoveLead, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, leads=tuple(replace(lead, stage=a.stage, status=_STATUS[a.outcome], manual=False)
                                  if lead.key == a.lead_key else lead for lead in s.leads))


def _open_cycle(s: Snapshot, a: OpenCycle, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, cycles=(*(c for c in s.cycles if c.category != a.category), a.cycle()))


def _update_cycle(s: Snapshot, a: UpdateCycle, event: VisitEvent, now: datetime) -> Snapshot:
    def updated(cycles: tuple[Cycle, ...]) -> tuple[Cycle, ...]:
        return tuple(replace(c, task_state=a.task_state, cancelled_by=a.cancelled_by, task_exists=a.task_exists)
                     if (c.category, c.anchor_visit_id) == (a.category, a.anchor_visit_id) else c for c in cycles)
    return replace(s, cycles=updated(s.cycles), closed_cycles=updated(s.closed_cycles))


def _close_cycle(s: Snapshot, a: CloseCycle, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, cycles=tuple(c for c in s.cycles if (c.category, c.anchor_visit_id) != (a.category,
                                                                                          a.anchor_visit_id)),
                   closed_cycles=(*s.closed_cycles, *(closed(c, a) for c in s.cycles
                                                       if (c.category, c.anchor_visit_id) == (a.category,
                                                                                              a.anchor_visit_id))))


def closed(cycle: Cycle, close: CloseCycle) -> Cycle:
    """The cycle as the store keeps it once closed (a cycle closed as history never had a task)."""
    return replace(cycle, task_exists=cycle.task_exists and not close.reason.startswith(HISTORY))


HISTORY = "history:"  # CloseCycle.reason of a cycle an import opened long over


def _lost_step(s: Snapshot, a: RecordLostStep, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, lost=LostProgress(a.anchor_visit_id, a.lead_key, a.step, a.at))


def _message(s: Snapshot, a: SendMessage, event: VisitEvent, now: datetime) -> Snapshot:
    if a.template == "welcome" and s.client is not None:
        s = replace(s, client=replace(s.client, welcome_sent=True))
    if a.marketing:
        s = replace(s, marketing_sent_at=(*s.marketing_sent_at, a.send_at or now))
    return s


def _request_prepayment(s: Snapshot, a: RequestPrepayment, event: VisitEvent, now: datetime) -> Snapshot:
    state = PrepaymentState(a.booking_id, a.attempt, order_reference(a.booking_id, a.attempt), "pending",
                            a.amount, a.currency, a.deadline_at, branch=a.branch)
    return replace(s, prepayments=(*(p for p in s.prepayments if p.booking_id != a.booking_id), state))


def _change_prepayment(s: Snapshot, a: ChangePrepayment, event: VisitEvent, now: datetime) -> Snapshot:
    return replace(s, prepayments=tuple(replace(p, status=a.new_status) if p.booking_id == a.booking_id else p
                                        for p in s.prepayments))


_STEPS: dict[type, Callable[[Snapshot, Any, VisitEvent, datetime], Snapshot]] = {
    RecordVisit: _visit, CreateLead: _create_lead, MoveLead: _move_lead, OpenCycle: _open_cycle,
    UpdateCycle: _update_cycle, CloseCycle: _close_cycle, RecordLostStep: _lost_step, SendMessage: _message,
    RequestPrepayment: _request_prepayment, ChangePrepayment: _change_prepayment,
}
