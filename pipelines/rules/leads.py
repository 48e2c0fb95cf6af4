"""Creating and moving the robot's amoCRM leads, the same way in all three pipelines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pipelines.actions import CreateLead, MoveLead
from pipelines.catalog import category_label
from pipelines.events import BookingStatus
from pipelines.rules.context import Occasion, Scene
from pipelines.rules.segments import segment_fields
from pipelines.snapshot import LeadState, VisitState
from pipelines.stages import PIPELINE_NAMES, WON, Pipeline, outcome_of, stage_rank
from pipelines.texts import text


def create_lead(
    scene: Scene,
    pipeline: Pipeline,
    stage: str,
    key: str,
    about: VisitState | None,
    responsible: str | None = None,
    as_made: bool = False,
) -> CreateLead:
    """A lead about the visit ``about`` (the booking for Sales, the last visit for Repeat and Lost).

    Every lead the robot makes carries its budget (the visit's value) and the fields people filter and
    report on: branch, master, category and last visit (docs/amocrm.md).
    """
    names = PIPELINE_NAMES.get(scene.language, PIPELINE_NAMES["en"])
    who = scene.client.name or scene.client.id
    return CreateLead(
        key=key,
        client_id=scene.client.id,
        pipeline=pipeline,
        stage=stage,
        name=text("lead_name", scene.language, client=who, pipeline=names[pipeline]),
        fields=lead_fields(scene, about, as_made),
        responsible=responsible,
        price=budget(about.price if about else None),
    )


def budget(value: Decimal | None) -> int | None:
    """amoCRM's lead budget is a whole number in the account's currency."""
    if value is None or value <= 0:
        return None
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def lead_fields(scene: Scene, about: VisitState | None, as_made: bool = False) -> dict[str, str]:
    """branch, favourite_master, last_category and last_visit: from the client's completed visits up to
    ``about`` when there are any (newest first, ``about`` included), else from ``about`` itself (a first
    booking). Visits after ``about`` are left out, so a lead says the same whenever its visit is processed;
    ``as_made``: also those after the booking was made (a Sales lead says what was known when it was made)."""
    completed = scene.snapshot.completed()
    if about is not None:
        until = (about.booked_at or about.start_at) if as_made else about.start_at
        # (a visit starting at the same time comes after ``about`` when its id does: the order visits sort in)
        last = (min(until, about.start_at), about.external_id)
        completed = tuple(v for v in completed if (v.start_at, v.external_id) <= last)
    if about is not None and about.status is BookingStatus.COMPLETED and all(
            v.external_id != about.external_id for v in completed):
        completed = (about, *completed)
    own: dict[str, str] = {}
    if about is not None:
        own = {
            "branch": scene.policy.branch_label(about.branch) or (about.branch or ""),
            "favourite_master": about.staff_name or about.staff_id or "",
            "last_category": ", ".join(category_label(c, scene.language) for c in about.categories),
            "last_visit": about.start_at.astimezone(scene.policy.timezone).isoformat(),
        }
    fields = {**own, **segment_fields(scene, completed)}
    return {k: v for k, v in fields.items() if v}


def move(scene: Scene, pipeline: Pipeline, lead_key: str, stage: str, occasion: str) -> MoveLead:
    """Move the lead to ``stage``; ``occasion`` tells this move apart from an earlier one to the same stage.

    A lead won by a booking or visit takes its value as the budget, so amoCRM's won revenue is what the
    salon actually booked (a Repeat lead starts with the last visit's value as the expected one).
    """
    won_by = scene.booking.total_price if stage == WON and isinstance(scene, Occasion) else None
    return MoveLead(
        key=f"move:{lead_key}:{stage}:{occasion}",
        client_id=scene.client.id,
        pipeline=pipeline,
        lead_key=lead_key,
        stage=stage,
        outcome=outcome_of(stage),
        price=budget(won_by),
    )


def move_lead(scene: Scene, lead: LeadState, stage: str, occasion: str) -> MoveLead:
    return move(scene, lead.pipeline, lead.key, stage, occasion)


def advance(scene: Scene, lead: LeadState, stage: str, occasion: str) -> list[MoveLead]:
    """A time-based move: only forward, and never on a lead a person moved."""
    if lead.manual or stage_rank(lead.pipeline, stage) <= stage_rank(lead.pipeline, lead.stage):
        return []
    return [move_lead(scene, lead, stage, occasion)]
