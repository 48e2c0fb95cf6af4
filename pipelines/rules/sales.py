"""Sales pipeline (DESIGN §6 rules 1–2, seed 002): a new client's first booking until the first visit.

- First booking of a client with no completed visit: contact upserted, Sales lead at "first booking"
  (or moved back there when an earlier first booking was missed), welcome message with the bonus, once
  per client ever. A booking that asks for a prepayment puts the lead at "prepayment" instead (the
  seed's grey clock); the prepayment rules move it on when it is paid or expires.
- First visit completed: the Sales lead is won (the Repeat visits rules take the client from there).
- No-show or cancellation with no other booking to come: the lead goes to the configured stage and
  an admin gets a call task. With another booking to come the client has rebooked: nothing to chase.
  Processed after a later visit already won the lead, a first booking missed before any of the client's
  other bookings could have been a visit, with nothing to come then, still gets its call task (as in order).
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.actions import Action, CreateTask, Skip, TaskKind, UpdateFields, UpsertContact
from pipelines.events import BookingStatus
from pipelines.rules.context import Occasion
from pipelines.rules.leads import budget, create_lead, lead_fields, move_lead
from pipelines.rules.messaging import message
from pipelines.rules.prepayment import asks_for_prepayment
from pipelines.snapshot import LeadState, LeadStatus, VisitState
from pipelines.stages import PREPAYMENT, WON, Pipeline
from pipelines.texts import local_date, text

_MISSED_STAGES = ("no_show", "cancelled")
_MISSED = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)


def on_event(o: Occasion) -> list[Action]:
    actions: list[Action] = []
    if o.arrives:
        actions.append(_contact(o))
    if o.is_new_booking and not _has_visited(o):
        actions += _first_booking(o)
    if o.completed:
        actions += _first_visit(o)
    if o.cancelled or o.no_show:
        actions += _missed(o)
    return actions + _reattributed(o)


def first_booked(visits: tuple[VisitState, ...]) -> VisitState | None:
    """The client's first booking: the one made first in the booking system (by its start where that is not
    known). The Sales lead is about it, whichever of the client's bookings was processed first."""
    return min(visits, key=lambda v: (v.booked_at or v.start_at, v.start_at, v.external_id), default=None)


def _sales_lead(o: Occasion) -> LeadState | None:
    return next((lead for lead in reversed(o.snapshot.leads) if lead.pipeline is Pipeline.SALES), None)


def _reattributed(o: Occasion) -> list[Action]:
    """The Sales lead about another booking than the client's first, which this event made known (its events
    processed after a later booking's): its fields and, while it is open, its budget are that booking's; a won
    lead's budget is the value of the client's first visit."""
    lead = _sales_lead(o)
    if lead is None or lead.status is LeadStatus.LOST:
        return []
    before = o.snapshot.client_visits
    after = (*(v for v in before if v.external_id != o.booking_id), o.visit_state())
    was, now = first_booked(before), first_booked(after)
    actions: list[Action] = []
    if now is not None and was is not None and now.external_id != was.external_id:
        actions.append(UpdateFields(key=f"fields:sales:{o.client.id}:{o.stamp}", client_id=o.client.id,
                                    fields=lead_fields(o, now, as_made=True), lead_key=lead.key))
        if lead.status is LeadStatus.OPEN:
            actions.append(replace(move_lead(o, lead, lead.stage, o.stamp), price=budget(now.price)))
    if o.completed and lead.status is LeadStatus.WON and all(
            (o.booking.start_at, o.booking_id) < (v.start_at, v.external_id)
            for v in o.snapshot.completed() if v.external_id != o.booking_id):
        actions.append(move_lead(o, lead, WON, o.stamp))  # the first visit's value
    return actions


def _has_visited(o: Occasion) -> bool:
    return o.client.has_completed_visit or bool(o.snapshot.completed())


def _contact(o: Occasion) -> UpsertContact:
    info = o.event.client
    return UpsertContact(
        key=f"contact:{o.client.id}:{o.booking_id}",
        client_id=o.client.id,
        name=(info.name if info else None) or o.client.name,
        phone=info.phone if info else None,
        email=info.email if info else None,
    )


def _first_booking(o: Occasion) -> list[Action]:
    lead = o.snapshot.open_lead(Pipeline.SALES)
    stage = PREPAYMENT if asks_for_prepayment(o) else "first_booking"  # the grey clock until it is paid
    actions: list[Action] = []
    if lead is None:
        key = f"lead:sales:{o.client.id}:{o.booking_id}"
        known = (*(v for v in o.snapshot.client_visits if v.external_id != o.booking_id), o.visit_state())
        about = first_booked(known) or o.visit_state()
        actions.append(create_lead(o, Pipeline.SALES, stage, key, about, responsible=_responsible(o),
                                   as_made=True))
    elif lead.stage in _MISSED_STAGES:
        actions.append(move_lead(o, lead, stage, o.stamp))
    return actions + _welcome(o)


def _welcome(o: Occasion) -> list[Action]:
    if not o.policy.enabled("welcome") or o.client.welcome_sent or o.booking.start_at < o.now or o.is_history:
        return []
    branch = o.policy.branch_label(o.booking.branch)
    context = {"name": o.client.name, "bonus": o.policy.welcome_bonus, "branch": branch}
    return [message(o, "welcome", "first", context, booking_id=o.booking_id)]


def _first_visit(o: Occasion) -> list[Action]:
    lead = o.snapshot.open_lead(Pipeline.SALES)
    return [move_lead(o, lead, WON, o.stamp)] if lead else []


def _missed(o: Occasion) -> list[Action]:
    lead = o.snapshot.open_lead(Pipeline.SALES)
    if lead is None:
        return _missed_before_the_first_visit(o)
    # another booking to come, made by the time this one was missed (one made later does not count, whatever
    # order the two were processed in: the client was to be called then)
    rebooked = [v for v in o.other_upcoming() if v.booked_by(o.event.occurred_at)]
    if rebooked:
        reason = f"first booking {o.booking_id} missed, but booking {rebooked[0].external_id} is to come"
        return [Skip(key=f"skip:sales:{o.client.id}:{o.stamp}", rule="sales", reason=reason)]
    stage = o.policy.sales_no_show_stage if o.no_show else o.policy.sales_cancelled_stage
    actions: list[Action] = [move_lead(o, lead, stage, o.stamp)]
    if o.policy.enabled("sales_call_task"):
        actions.append(_call_task(o, lead.key))
    return actions


def _missed_before_the_first_visit(o: Occasion) -> list[Action]:
    """A first booking missed before the client's first visit, processed after that visit won the Sales lead:
    in order the lead was open then and the admin got the call task (the lead, won since, stays won), unless
    another booking to come had been made by then."""
    won = _sales_lead(o)
    if won is None or won.status is not LeadStatus.WON or not o.policy.enabled("sales_call_task"):
        return []
    moment = o.event.occurred_at
    others = [v for v in o.snapshot.client_visits if v.external_id != o.booking_id]
    # (a booking before then not known to be missed may have been a visit whose completion is still to come)
    visited = any(v.status not in _MISSED and v.start_at <= moment for v in others)
    to_come = any(v.booked_by(moment) and v.start_at > moment
                  and not (v.status is BookingStatus.CANCELLED and v.version <= moment) for v in others)
    return [] if visited or to_come else [_call_task(o, won.key)]


def _call_task(o: Occasion, lead_key: str) -> CreateTask:
    name = "sales_call_no_show" if o.no_show else "sales_call_cancelled"
    when = local_date(o.booking.start_at, o.policy.timezone, o.language)
    return CreateTask(
        key=f"task:sales_call:{o.client.id}:{o.stamp}",
        client_id=o.client.id,
        task_kind=TaskKind.SALES_CALL,
        text=text(name, o.language, client=o.client.name or o.client.id, date=when, service=o.service_titles),
        deadline=o.now,
        responsible=_responsible(o),
        lead_key=lead_key,
    )


def _responsible(o: Occasion) -> str | None:
    return o.policy.responsible_for(o.booking.branch)
