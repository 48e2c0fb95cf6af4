"""Phases 2 and 3: leads created in their pipeline and stage, then lead moves and custom fields."""

from __future__ import annotations

from typing import Any

from bridge.amocrm.create_once import Create, create_once
from bridge.store import playbook
from bridge.store.crm_queue import Outcomes, Pending
from jobs.executor.sync import Sync, check_setup, marker
from pipelines.actions import CreateLead, MoveLead, UpdateFields


def create(sync: Sync, items: list[Pending[CreateLead]]) -> None:
    contacts = sync.links("contact", (i.action.client_id for i in items))
    creates = [
        Create(item, _body(sync, item.action, contacts[item.action.client_id]), marker(item), bool(item.attempts))
        for item in items
        if item.action.client_id in contacts  # the rest waits for its contact
    ]
    for created in create_once(sync.api, "leads", creates, sync.attempting, check_setup):
        sync.settle_created(created, "lead", lambda i: i.action.key, "lead_id")


def _body(sync: Sync, a: CreateLead, contact: int) -> dict[str, Any]:
    pipeline_id, status_id = sync.account.location(a.pipeline, a.stage)
    body: dict[str, Any] = {
        "name": a.name,
        "pipeline_id": pipeline_id,
        "status_id": status_id,
        "_embedded": {"contacts": [{"id": contact}]},
    }
    if a.price:
        body["price"] = a.price  # the budget amoCRM's own revenue reports add up
    values = field_values(sync, "leads", a.fields)
    if values:
        body["custom_fields_values"] = values
    if str(a.responsible or "").isdigit():
        body["responsible_user_id"] = int(a.responsible or 0)
    return body


def update(sync: Sync, items: list[Pending[MoveLead | UpdateFields]]) -> None:
    """Lead moves and field updates, folded per entity: amoCRM gets each entity's final state once."""
    targets = sync.targets([i.action for i in items])
    with sync.store.session() as s:
        manual = playbook.manual_leads(s, sync.tenant, [i.action.lead_key for i in items
                                                        if isinstance(i.action, MoveLead)])
    patches: dict[tuple[str, int], dict[str, Any]] = {}
    involved: dict[tuple[str, int], list[Pending]] = {}
    skipped = Outcomes()
    for item, target in zip(items, targets, strict=True):
        a = item.action
        if target is None:
            continue  # waits for its lead or contact
        entity, amo_id = target
        if isinstance(a, MoveLead) and a.lead_key in manual:
            skipped.skipped[item.id] = "a person moved this lead; the robot leaves it alone"
            continue
        patch = patches.setdefault((entity, amo_id), {"id": amo_id})
        if entity == "contacts" and amo_id in sync.contact_renames:  # one PATCH of the contact, not two
            patch["name"], upserts = sync.contact_renames.pop(amo_id)
            involved.setdefault((entity, amo_id), []).extend(upserts)
        involved.setdefault((entity, amo_id), []).append(item)
        if isinstance(a, MoveLead):
            patch["pipeline_id"], patch["status_id"] = sync.account.location(a.pipeline, a.stage)
            if a.price:
                patch["price"] = a.price
        else:
            merged = {v["field_id"]: v for v in patch.get("custom_fields_values", [])}
            merged.update({v["field_id"]: v for v in field_values(sync, entity, a.fields)})
            if merged:
                patch["custom_fields_values"] = list(merged.values())
            if a.tags:  # added to the entity's tags, never replacing the ones people set
                known = {t["name"] for t in patch.get("tags_to_add", [])}
                patch["tags_to_add"] = [*patch.get("tags_to_add", []),
                                        *({"name": t} for t in a.tags if t not in known)]
    sync.settle(skipped)
    for entity, call in (("leads", sync.api.update_leads), ("contacts", sync.api.update_contacts)):
        targets = [key for key in patches if key[0] == entity]
        body = [patches[key] for key in targets if len(patches[key]) > 1]
        members = [item for key in targets for item in involved[key]]
        if members:
            results = {item.id: {"entity": entity, "id": key[1]} for key in targets for item in involved[key]}
            if body:
                sync.patch(call, body, members, results)
            else:
                sync.settle(Outcomes(done=results))


def field_values(sync: Sync, entity: str, values: dict[str, str] | Any) -> list[dict[str, Any]]:
    """Custom field values by our field keys (select fields by their option's key); a field setup does not
    manage is left out."""
    out = []
    for key, value in (values or {}).items():
        ids = sync.account.fields.get((entity, key))
        if ids is None or value in (None, ""):
            continue
        option = ids.enums.get(str(value))  # a select field takes the option's id, not its text
        out.append({"field_id": ids.id, "values": [{"enum_id": option} if option else {"value": value}]})
    return out
