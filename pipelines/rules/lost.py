"""Lost clients pipeline (DESIGN §6 rule 7, seed 002): win back a client who stopped coming.

Clock (``on_clock``):
- A client is lost when every open cycle is past ``due_at + lost_after(category)`` and they have no
  booking to come (any category, any branch). A client still coming for another category is not
  lost. One sequence per anchor (the last completed visit): it starts again only after a new visit.
- Entering: a Lost lead with segment fields (branch, favourite master, last category, last visit),
  the open Repeat leads closed as lost, the reminder message.
- Then, ``lost_step_days`` apart: the "come back to <favourite master>" promo → a manager call task →
  the lead closed as lost for good. A step whose message cannot go (unreachable, opted out, promo
  off) still happens, so the people's part of the sequence never stalls.
- A person who moves or closes the Lost lead takes over: the robot stops.

Events (``on_event``): any new booking, or a visit we never saw booked, wins the Lost lead (also one
closed as lost for good) and stops the sequence.
"""

from __future__ import annotations

from pipelines.actions import Action, CreateTask, RecordLostStep, Skip, TaskKind
from pipelines.rules.context import Occasion, Scene
from pipelines.rules.leads import create_lead, move, move_lead
from pipelines.rules.messaging import message
from pipelines.rules.segments import favourite_master
from pipelines.snapshot import LeadStatus, LostProgress, LostStep
from pipelines.stages import LOST, WON, Pipeline
from pipelines.texts import local_date, text
from pipelines.timing import lost_at, next_step_at

_NEXT = {LostStep.REMINDER: LostStep.PROMO, LostStep.PROMO: LostStep.CALL, LostStep.CALL: LostStep.LOST_FOR_GOOD}


def on_event(o: Occasion) -> list[Action]:
    progress = o.snapshot.lost
    if not o.arrives or progress is None:
        return []
    if not (progress.step.running or progress.step is LostStep.LOST_FOR_GOOD):
        return []
    return [
        move(o, Pipeline.LOST, progress.lead_key, WON, o.stamp),
        _step(o, progress.anchor_visit_id, progress.lead_key, LostStep.RETURNED, o.stamp),
    ]


def on_clock(scene: Scene) -> list[Action]:
    if not scene.policy.enabled("lost_sequence"):
        return []
    progress = scene.snapshot.lost
    if progress and progress.step.running:
        return _continue(scene, progress)
    anchor = _lost_anchor(scene)
    if anchor is None or (progress and progress.anchor_visit_id == anchor):
        return []
    return _enter(scene, anchor)


def _step(scene: Scene, anchor: str, lead_key: str, step: LostStep, occasion: str = "") -> RecordLostStep:
    key = f"lost:{scene.client.id}:{anchor}:{step}" + (f":{occasion}" if occasion else "")
    return RecordLostStep(
        key=key, client_id=scene.client.id, anchor_visit_id=anchor, lead_key=lead_key, step=step, at=scene.now
    )


def _lost_anchor(scene: Scene) -> str | None:
    """The anchor visit of a client who is lost now, else None."""
    cycles = scene.snapshot.cycles
    if not cycles or scene.snapshot.upcoming(scene.now):
        return None
    if scene.now < max(lost_at(c, scene.policy) for c in cycles):
        return None
    last = scene.last_visit()
    return last.external_id if last else max(cycles, key=lambda c: c.due_at).anchor_visit_id


def _enter(scene: Scene, anchor: str) -> list[Action]:
    completed = scene.snapshot.completed()
    key = f"lead:lost:{scene.client.id}:{anchor}"
    branch = completed[0].branch if completed else None
    actions: list[Action] = [
        create_lead(
            scene,
            Pipeline.LOST,
            "reminder",
            key,
            completed[0] if completed else None,
            scene.policy.responsible_for(branch),
        )
    ]
    for repeat in scene.snapshot.leads:  # every visit's Repeat lead still open
        if repeat.pipeline is Pipeline.REPEAT and repeat.status is LeadStatus.OPEN and not repeat.manual:
            actions.append(move_lead(scene, repeat, LOST, f"lost:{anchor}"))
    context = {"name": scene.client.name, "branch": scene.policy.branch_label(branch)}
    actions.append(message(scene, "lost_reminder", anchor, context))
    return actions + [_step(scene, anchor, key, LostStep.REMINDER)]


def _continue(scene: Scene, progress: LostProgress) -> list[Action]:
    lead = scene.snapshot.lead(progress.lead_key)
    if lead and (lead.manual or lead.status is not LeadStatus.OPEN):
        return [_step(scene, progress.anchor_visit_id, progress.lead_key, LostStep.TAKEN_OVER)]
    if scene.snapshot.upcoming(scene.now):
        return []  # the booking's own event wins the lead
    if scene.now < next_step_at(progress, scene.policy):
        return []
    step = _NEXT[progress.step]
    return _DO[step](scene, progress) + [_step(scene, progress.anchor_visit_id, progress.lead_key, step)]


def _promo(scene: Scene, progress: LostProgress) -> list[Action]:
    occasion = progress.anchor_visit_id
    actions: list[Action] = [move(scene, Pipeline.LOST, progress.lead_key, "come_back_promo", occasion)]
    if not (scene.policy.promo and scene.policy.enabled("lost_master_promo")):
        reason = "promo switched off: no come-back promo"
        return actions + [Skip(key=f"skip:lost_promo:{scene.client.id}:{occasion}", rule="lost", reason=reason)]
    master = favourite_master(scene.snapshot.completed(), scene.policy.favourite_master_visits)
    context = {"name": scene.client.name, "master": master, "bonus": scene.policy.promo_offer}
    return actions + [message(scene, "lost_master_promo", occasion, context)]


def _call(scene: Scene, progress: LostProgress) -> list[Action]:
    completed = scene.snapshot.completed()
    last = completed[0] if completed else None
    body = text(
        "lost_call",
        scene.language,
        client=scene.client.name or scene.client.id,
        date=local_date(last.start_at, scene.policy.timezone, scene.language) if last else None,
        master=favourite_master(completed, scene.policy.favourite_master_visits),
        branch=scene.policy.branch_label(last.branch if last else None),
    )
    task = CreateTask(
        key=f"task:lost_call:{scene.client.id}:{progress.anchor_visit_id}",
        client_id=scene.client.id,
        task_kind=TaskKind.LOST_CALL,
        text=body,
        deadline=scene.now,
        responsible=scene.policy.responsible_for(last.branch if last else None),
        lead_key=progress.lead_key,
    )
    return [move(scene, Pipeline.LOST, progress.lead_key, "manager_call", progress.anchor_visit_id), task]


def _final(scene: Scene, progress: LostProgress) -> list[Action]:
    return [move(scene, Pipeline.LOST, progress.lead_key, LOST, progress.anchor_visit_id)]


_DO = {LostStep.PROMO: _promo, LostStep.CALL: _call, LostStep.LOST_FOR_GOOD: _final}
