"""Repeat visits pipeline (DESIGN §6 rule 6, seed 002): bring a visiting client back on time.

Events:
- A completed visit writes the contact's segment fields and, when the client has no open Repeat lead,
  starts one at "next visit expected" (the client "enters Repeat visits").
- A new booking (or a walk-in visit) in a category with an open cycle wins the open Repeat lead:
  "Rebooked".

Clock (``on_clock``, per cycle):
- From ``due_at - lead`` (``Policy.reminder_lead``) the reminder message goes out and the lead moves
  to "contacted"; when no message can go (unreachable, opted out, trigger off) it moves to
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
from pipelines.rules.context import Occasion, Scene
from pipelines.rules.leads import advance, budget, create_lead, move_lead
from pipelines.rules.messaging import message, message_key
from pipelines.rules.segments import card_fields, history_fields, segment_fields
from pipelines.snapshot import Cycle, LeadState, TaskState
from pipelines.stages import WON, Pipeline
from pipelines.texts import local_date
from pipelines.timing import due_at, lost_at, reminder_at
from pipelines.transitions import Transition


def on_event(o: Occasion) -> list[Action]:
    actions: list[Action] = []
    rebooked = o.arrives and _in_open_cycle(o)
    lead = o.snapshot.open_lead(Pipeline.REPEAT)
    if rebooked and lead:
        actions.append(move_lead(o, lead, WON, o.stamp))
        lead = None
    if o.completed:
        actions += _entered(o, lead)
    elif _goods_changed(o):
        completed = (o.visit_state(), *o.snapshot.completed())
        actions.append(UpdateFields(key=f"fields:history:{o.client.id}:{o.stamp}", client_id=o.client.id,
                                    fields=history_fields(o, completed)))
    return actions


def _goods_changed(o: Occasion) -> bool:
    """A visit already completed whose products or materials changed (a sale rung up after the visit)."""
    return Transition.GOODS_CHANGED in o.steps


def _in_open_cycle(o: Occasion) -> bool:
    return any(c.category in o.categories and c.anchor_visit_id != o.booking_id for c in o.snapshot.cycles)


def _entered(o: Occasion, open_lead: LeadState | None) -> list[Action]:
    completed = (o.visit_state(), *o.snapshot.completed())
    fields = {**segment_fields(o, completed), **card_fields(o, completed), **history_fields(o, completed)}
    actions: list[Action] = [
        UpdateFields(key=f"fields:{o.client.id}:{o.booking_id}", client_id=o.client.id, fields=fields,
                     tags=o.client.tags)
    ]
    periods = shortest_periods(o.booking.services, o.policy)
    followed = min((v for v in map(o.next_in, periods) if v is not None),
                   key=lambda v: (v.start_at, v.external_id), default=None)
    if open_lead is not None and followed is not None and _lead_of_later_visit(o, open_lead):
        open_lead = None  # this visit came before the one that lead is about: it had its own
    if open_lead is None and periods and not _long_over(o):
        key = f"lead:repeat:{o.client.id}:{o.booking_id}"
        lead = create_lead(o, Pipeline.REPEAT, "next_visit_expected", key, o.visit_state(),
                           responsible=o.policy.responsible_for(o.booking.branch))
        actions.append(lead)
        if followed is not None:
            # already rebooked (or a later visit was processed first): won at once, as that booking would
            # have won it had it come after this visit; its value is the lead's budget
            won = move_lead(o, LeadState(key, Pipeline.REPEAT, lead.stage), WON, f"{o.stamp}:followed")
            actions.append(dataclasses.replace(won, price=budget(followed.price)))
    return actions


def _lead_of_later_visit(o: Occasion, lead: LeadState) -> bool:
    """The Repeat lead was started by a visit after this one (its key names that visit)."""
    visit = o.visit(lead.key.rsplit(":", 1)[-1])
    return visit is not None and visit.start_at > o.booking.start_at


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
    """Move the open Repeat lead forward, or start one for this cycle if it never had one."""
    lead = scene.snapshot.open_lead(Pipeline.REPEAT)
    if lead:
        return list(advance(scene, lead, stage, _occasion(cycle)))
    key = f"lead:repeat:{scene.client.id}:{cycle.anchor_visit_id}"
    if scene.snapshot.lead(key) or key in scene.snapshot.applied:
        return []  # this cycle's lead was already closed (won by a booking that was later cancelled)
    anchor = scene.visit(cycle.anchor_visit_id)
    responsible = scene.policy.responsible_for(anchor.branch if anchor else None)
    return [create_lead(scene, Pipeline.REPEAT, stage, key, anchor or scene.last_visit(), responsible=responsible)]
