"""Repeat visits pipeline (DESIGN §6 rule 6, seed 002): bring a visiting client back on time.

Events:
- A completed visit writes the contact's segment fields and starts its own Repeat lead at "next visit
  expected" (the client "enters Repeat visits"): one lead per completed visit with a periodicity, as one
  autotask per visit and category.
- A visit's Repeat lead is won by the visit's next booking: the earliest booking (by its start) after the
  visit in one of its categories, booked, confirmed or completed, with that booking's value. The winner is
  worked out from the client's bookings as stored, whatever order their events came in: a booking that
  starts earlier than the one that won the lead takes it over, and when the winner is cancelled (or
  missed) the next one takes it, or the lead opens again at "next visit expected".

Clock (``on_clock``, per cycle):
- From ``due_at - lead`` (``Policy.reminder_lead``) the reminder message goes out and the cycle's lead
  moves to "contacted"; when no message can go (unreachable, opted out, trigger off) it moves to
  "reminder due" and the autotask is the admin's cue.
- From ``due_at`` the optional promo goes out (trigger ``repeat_promo`` and ``Policy.promo``).
- Nothing is sent once the cycle is past its lost threshold (the Lost clients rules own it then),
  while the cycle's cancelling booking is still to come, or after a person completed the task.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from pipelines.actions import Action, SendMessage, UpdateFields
from pipelines.catalog import shortest_periods
from pipelines.events import BookingStatus
from pipelines.rules.context import Occasion, Scene, next_booking
from pipelines.rules.leads import advance, budget, create_lead, move_lead
from pipelines.rules.messaging import message, message_key
from pipelines.rules.segments import card_fields, history_fields, segment_fields
from pipelines.snapshot import Cycle, LeadState, LeadStatus, TaskState, VisitState
from pipelines.stages import WON, Pipeline
from pipelines.texts import local_date
from pipelines.timing import due_at, lost_at, reminder_at
from pipelines.transitions import Transition


def on_event(o: Occasion) -> list[Action]:
    actions = _reattributed(o)
    if o.completed:
        actions += _entered(o)
    elif _goods_changed(o):
        completed = (o.visit_state(), *o.snapshot.completed())
        actions.append(UpdateFields(key=f"fields:history:{o.client.id}:{o.stamp}", client_id=o.client.id,
                                    fields=history_fields(o, completed)))
    return actions


def _goods_changed(o: Occasion) -> bool:
    """A visit already completed whose products or materials changed (a sale rung up after the visit)."""
    return Transition.GOODS_CHANGED in o.steps


def lead_key(client_id: str, visit_id: str) -> str:
    """The Repeat lead a completed visit starts."""
    return f"lead:repeat:{client_id}:{visit_id}"


def _lead_visit(lead: LeadState) -> str:
    return lead.key.rsplit(":", 1)[-1]


def _categories(scene: Scene, visit: VisitState) -> tuple[str, ...]:
    """The categories of a visit that have a periodicity (those its Repeat lead is about)."""
    if visit.lines:
        return tuple(shortest_periods(visit.lines, scene.policy))
    return visit.categories


def winner(visit: VisitState, categories: tuple[str, ...], visits: tuple[VisitState, ...]) -> VisitState | None:
    """The booking that wins ``visit``'s Repeat lead among ``visits``: the earliest to start after it in one of
    ``categories``, booked, confirmed or completed."""
    return next_booking(visit.external_id, visit.start_at, categories, visits)


def _reattributed(o: Occasion) -> list[Action]:
    """The Repeat leads whose winner this event changes: won (again) by the new winner with its value, or
    open again at "next visit expected" (with their own visit's value) when no booking follows any more."""
    before = o.snapshot.client_visits
    after = (*(v for v in before if v.external_id != o.booking_id), o.visit_state())
    by_id = {v.external_id: v for v in reversed(after)}  # the first of a repeated id, as a scan would find
    actions: list[Action] = []
    for lead in o.snapshot.leads:
        if lead.pipeline is not Pipeline.REPEAT or lead.status is LeadStatus.LOST or _lead_visit(lead) == o.booking_id:
            continue
        visit = by_id.get(_lead_visit(lead))
        if visit is None or visit.status is not BookingStatus.COMPLETED:
            continue
        categories = _categories(o, visit)
        was, now = winner(visit, categories, before), winner(visit, categories, after)
        if now is not None and (lead.status is LeadStatus.OPEN or _changed(was, now)):
            won = move_lead(o, lead, WON, o.stamp)
            actions.append(dataclasses.replace(won, price=budget(now.price)))
        elif now is None and was is not None and lead.status is LeadStatus.WON:
            back = move_lead(o, lead, "next_visit_expected", o.stamp)
            actions.append(dataclasses.replace(back, price=budget(visit.price)))
    return actions


def _changed(was: VisitState | None, now: VisitState) -> bool:
    return was is None or (was.external_id, was.price) != (now.external_id, now.price)


def _entered(o: Occasion) -> list[Action]:
    completed = (o.visit_state(), *o.snapshot.completed())
    fields = {**segment_fields(o, completed), **card_fields(o, completed), **history_fields(o, completed)}
    actions: list[Action] = [
        UpdateFields(key=f"fields:{o.client.id}:{o.booking_id}", client_id=o.client.id, fields=fields,
                     tags=o.client.tags)
    ]
    periods = shortest_periods(o.booking.services, o.policy)
    key = lead_key(o.client.id, o.booking_id)
    if periods and not _long_over(o) and o.snapshot.lead(key) is None:
        lead = create_lead(o, Pipeline.REPEAT, "next_visit_expected", key, o.visit_state(),
                           responsible=o.policy.responsible_for(o.booking.branch))
        actions.append(lead)
        followed = winner(o.visit_state(), tuple(periods), o.snapshot.client_visits)
        if followed is not None:
            # already rebooked (or a later visit was processed first): won at once, as that booking would
            # have won it had it come after this visit; its value is the lead's budget
            won = move_lead(o, LeadState(key, Pipeline.REPEAT, lead.stage), WON, f"{o.stamp}:followed")
            actions.append(dataclasses.replace(won, price=budget(followed.price)))
    return actions


def _long_over(o: Occasion) -> bool:
    """History mode: every cycle this imported visit opens fell due before the grace window."""
    if not o.is_history:
        return False
    horizon = o.now - timedelta(days=o.policy.history_grace_days)
    return all(due_at(o.booking.start_at, days, o.policy) < horizon
               for days, _ in shortest_periods(o.booking.services, o.policy).values())


def on_clock(scene: Scene) -> list[Action]:
    actions: list[Action] = []
    for cycle in sorted(scene.snapshot.cycles, key=lambda c: (c.due_at, c.category)):
        if not _quiet(scene, cycle):
            actions += _cycle_due(scene, cycle)
    return actions


def _quiet(scene: Scene, cycle: Cycle) -> bool:
    """No repeat messages for this cycle: a person handled it, or its cancelling booking is still to come."""
    if cycle.task_state is TaskState.DONE_BY_PERSON:
        return True
    if cycle.task_state is TaskState.CANCELLED_BY_BOOKING:
        booking = scene.visit(cycle.cancelled_by or "")
        return booking is None or booking.is_upcoming(scene.now)
    return False


def _cycle_due(scene: Scene, cycle: Cycle) -> list[Action]:
    now = scene.now
    if now >= lost_at(cycle, scene.policy):
        return []
    actions: list[Action] = []
    if now >= reminder_at(cycle, scene.policy):
        actions += _reminder(scene, cycle)
    if now >= cycle.due_at and scene.policy.promo and scene.policy.enabled("repeat_promo"):
        context = {"name": scene.client.name, "service": cycle.service, "bonus": scene.policy.promo_offer}
        actions.append(message(scene, "promo", _occasion(cycle), context))
    return actions


def _occasion(cycle: Cycle) -> str:
    return f"{cycle.category}:{cycle.anchor_visit_id}"


def _reminder(scene: Scene, cycle: Cycle) -> list[Action]:
    actions: list[Action] = []
    if scene.policy.enabled("repeat_reminder"):
        visit_day = local_date(cycle.due_at - _period(cycle), scene.policy.timezone, scene.language)
        context = {"name": scene.client.name, "service": cycle.service, "date": visit_day}
        actions.append(message(scene, "repeat_reminder", _occasion(cycle), context))
    key = message_key("repeat_reminder", scene.client.id, _occasion(cycle))
    sent = key in scene.snapshot.applied or any(isinstance(a, SendMessage) for a in actions)
    return actions + _lead_to(scene, cycle, "contacted" if sent else "reminder_due")


def _period(cycle: Cycle) -> timedelta:
    return timedelta(days=cycle.period_days)


def _lead_to(scene: Scene, cycle: Cycle, stage: str) -> list[Action]:
    """Move the cycle's own Repeat lead forward, or start it if it never had one."""
    key = lead_key(scene.client.id, cycle.anchor_visit_id)
    lead = scene.snapshot.lead(key)
    if lead is not None:
        return list(advance(scene, lead, stage, _occasion(cycle))) if lead.status is LeadStatus.OPEN else []
    if key in scene.snapshot.applied:
        return []
    anchor = scene.visit(cycle.anchor_visit_id)
    responsible = scene.policy.responsible_for(anchor.branch if anchor else None)
    return [create_lead(scene, Pipeline.REPEAT, stage, key, anchor or scene.last_visit(), responsible=responsible)]
