"""Creating and moving the robot's amoCRM leads, the same way in all three pipelines."""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.actions import CreateLead, MoveLead
from pipelines.rules.context import Scene
from pipelines.snapshot import LeadState
from pipelines.stages import PIPELINE_NAMES, Pipeline, outcome_of, stage_rank
from pipelines.texts import text


def create_lead(
    scene: Scene,
    pipeline: Pipeline,
    stage: str,
    key: str,
    fields: Mapping[str, str] | None = None,
    responsible: str | None = None,
) -> CreateLead:
    names = PIPELINE_NAMES.get(scene.language, PIPELINE_NAMES["en"])
    who = scene.client.name or scene.client.id
    return CreateLead(
        key=key,
        client_id=scene.client.id,
        pipeline=pipeline,
        stage=stage,
        name=text("lead_name", scene.language, client=who, pipeline=names[pipeline]),
        fields=dict(fields or {}),
        responsible=responsible,
    )


def move(scene: Scene, pipeline: Pipeline, lead_key: str, stage: str, occasion: str) -> MoveLead:
    """Move the lead to ``stage``; ``occasion`` tells this move apart from an earlier one to the same stage."""
    return MoveLead(
        key=f"move:{lead_key}:{stage}:{occasion}",
        client_id=scene.client.id,
        pipeline=pipeline,
        lead_key=lead_key,
        stage=stage,
        outcome=outcome_of(stage),
    )


def move_lead(scene: Scene, lead: LeadState, stage: str, occasion: str) -> MoveLead:
    return move(scene, lead.pipeline, lead.key, stage, occasion)


def advance(scene: Scene, lead: LeadState, stage: str, occasion: str) -> list[MoveLead]:
    """A time-based move: only forward, and never on a lead a person moved."""
    if lead.manual or stage_rank(lead.pipeline, stage) <= stage_rank(lead.pipeline, lead.stage):
        return []
    return [move_lead(scene, lead, stage, occasion)]
