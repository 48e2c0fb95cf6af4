"""Which amoCRM ids stand for our pipelines, stages and custom fields in one tenant's account.

``salonbridge setup`` creates or finds them and saves the map; the executor loads it to turn
``(Pipeline.SALES, "first_booking")`` into ``(pipeline_id, status_id)`` and ``("contacts", "last_visit")``
into a field id. The ids are kept in ``crm_links`` rows (the only place amoCRM ids live):

=========== ================================== ==================
local_kind  local_key                          amo_id
=========== ================================== ==================
pipeline    ``sales``                          pipeline id
status      ``sales:first_booking``            status id (``sales:won`` → 142, ``sales:lost`` → 143)
field       ``contacts:last_visit``            custom field id
enum        ``leads:prepayment_status:paid``   enum (option) id
=========== ================================== ==================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select

from bridge.store.db import Store
from bridge.store.models import CrmLink
from pipelines.stages import STAGES, Pipeline

KINDS = ("pipeline", "status", "field", "enum")
ENTITIES = ("contacts", "leads")


class AccountMapError(KeyError):
    """The map lacks an id the caller needs: ``salonbridge setup <tenant>`` has not been run (or is stale)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "account map incomplete"


@dataclass(frozen=True)
class PipelineIds:
    """One pipeline: its id and ``{stage_key: status_id}`` for every stage of ``STAGES`` (won/lost too)."""

    id: int
    statuses: Mapping[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class FieldIds:
    """One custom field: its id and, for select fields, ``{enum_key: enum_id}``."""

    id: int
    enums: Mapping[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class AccountMap:
    """amoCRM ids of one tenant's pipelines, stages and fields (built by setup, read by the executor)."""

    pipelines: Mapping[Pipeline, PipelineIds] = field(default_factory=dict, hash=False)
    fields: Mapping[tuple[str, str], FieldIds] = field(default_factory=dict, hash=False)

    def pipeline_id(self, pipeline: Pipeline) -> int:
        try:
            return self.pipelines[Pipeline(pipeline)].id
        except KeyError:
            raise AccountMapError(f"no amoCRM pipeline for {pipeline!s}; run `salonbridge setup`") from None

    def status_id(self, pipeline: Pipeline, stage: str) -> int:
        try:
            return self.pipelines[Pipeline(pipeline)].statuses[stage]
        except KeyError:
            raise AccountMapError(f"no amoCRM status for {pipeline!s}:{stage}; run `salonbridge setup`") from None

    def location(self, pipeline: Pipeline, stage: str) -> tuple[int, int]:
        """``(pipeline_id, status_id)``: amoCRM needs both to move a lead (142/143 exist in every pipeline)."""
        return self.pipeline_id(pipeline), self.status_id(pipeline, stage)

    def stage_of(self, pipeline_id: int, status_id: int) -> tuple[Pipeline, str] | None:
        """The reverse, for amoCRM webhooks: which of our stages a lead is in, or None if not ours."""
        for pipeline, ids in self.pipelines.items():
            if ids.id == int(pipeline_id):
                stage = next((key for key, sid in ids.statuses.items() if sid == int(status_id)), None)
                return (pipeline, stage) if stage else None
        return None

    def field_id(self, entity: str, key: str) -> int:
        try:
            return self.fields[(entity, key)].id
        except KeyError:
            raise AccountMapError(f"no amoCRM custom field {entity}:{key}; run `salonbridge setup`") from None

    def enum_id(self, entity: str, key: str, enum_key: str) -> int:
        try:
            return self.fields[(entity, key)].enums[enum_key]
        except KeyError:
            raise AccountMapError(f"no amoCRM option {entity}:{key}:{enum_key}; run `salonbridge setup`") from None

    def marker_fields(self) -> dict[str, int]:
        """``{entity: field id}`` of the idempotency-marker fields, for ``AmoCrmClient(marker_fields=…)``."""
        return {entity: ids.id for (entity, key), ids in self.fields.items() if key == "marker"}

    def is_complete(self) -> bool:
        """Every pipeline with every stage of ``STAGES`` is mapped."""
        return all(
            p in self.pipelines and set(STAGES[p]) <= set(self.pipelines[p].statuses) for p in Pipeline
        )

    def rows(self) -> dict[tuple[str, str], int]:
        """The map as ``{(local_kind, local_key): amo_id}``, the shape it is stored in."""
        out: dict[tuple[str, str], int] = {}
        for pipeline, ids in self.pipelines.items():
            out[("pipeline", pipeline.value)] = ids.id
            out.update({("status", f"{pipeline.value}:{stage}"): sid for stage, sid in ids.statuses.items()})
        for (entity, key), ids in self.fields.items():
            out[("field", f"{entity}:{key}")] = ids.id
            out.update({("enum", f"{entity}:{key}:{enum}"): eid for enum, eid in ids.enums.items()})
        return out

    @classmethod
    def from_rows(cls, rows: Mapping[tuple[str, str], int]) -> AccountMap:
        pipelines: dict[Pipeline, PipelineIds] = {}
        statuses: dict[Pipeline, dict[str, int]] = {}
        fields: dict[tuple[str, str], int] = {}
        enums: dict[tuple[str, str], dict[str, int]] = {}
        for (kind, key), amo_id in rows.items():
            if kind == "pipeline" and key in Pipeline._value2member_map_:
                pipelines[Pipeline(key)] = PipelineIds(amo_id)
            elif kind == "status" and key.split(":", 1)[0] in Pipeline._value2member_map_:
                pipeline, stage = key.split(":", 1)
                statuses.setdefault(Pipeline(pipeline), {})[stage] = amo_id
            elif kind == "field" and key.count(":") == 1:
                entity, name = key.split(":")
                fields[(entity, name)] = amo_id
            elif kind == "enum" and key.count(":") == 2:
                entity, name, enum = key.split(":")
                enums.setdefault((entity, name), {})[enum] = amo_id
        return cls(
            {p: PipelineIds(ids.id, statuses.get(p, {})) for p, ids in pipelines.items()},
            {k: FieldIds(fid, enums.get(k, {})) for k, fid in fields.items()},
        )


def load_account_map(store: Store, tenant_slug: str) -> AccountMap | None:
    """The tenant's saved map, or None when setup never ran for it."""
    with store.session() as s:
        found = s.execute(
            select(CrmLink.local_kind, CrmLink.local_key, CrmLink.amo_id).where(
                CrmLink.tenant == tenant_slug, CrmLink.local_kind.in_(KINDS)
            )
        ).all()
    if not found:
        return None
    return AccountMap.from_rows({(kind, key): int(amo_id) for kind, key, amo_id in found})


def save_account_map(store: Store, tenant_slug: str, account_map: AccountMap) -> None:
    """Replace the tenant's saved map in one transaction (rows of other kinds — clients, leads — untouched)."""
    wanted = account_map.rows()
    now = datetime.now(UTC)
    with store.session() as s:
        existing = {
            (row.local_kind, row.local_key): row
            for row in s.scalars(select(CrmLink).where(CrmLink.tenant == tenant_slug, CrmLink.local_kind.in_(KINDS)))
        }
        stale = [row.id for key, row in existing.items() if key not in wanted]
        if stale:
            s.execute(delete(CrmLink).where(CrmLink.id.in_(stale)))
        for (kind, key), amo_id in wanted.items():
            row = existing.get((kind, key))
            if row is None:
                s.add(CrmLink(tenant=tenant_slug, local_kind=kind, local_key=key, amo_id=amo_id, updated_at=now))
            elif row.amo_id != amo_id:
                row.amo_id, row.updated_at = amo_id, now
