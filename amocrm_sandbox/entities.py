"""Pieces leads and contacts share: tags, user references, the lead↔contact links table and the
"closest open task" each entity shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import abort

from amocrm_sandbox.hal import link
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import NOT_BLANK, NOT_SUPPORTED, ItemErrors, is_int


def known_entity(entity: str, allowed: Iterable[str]) -> str:
    """``/api/v4/{entity}/…`` routes exist only for the entity types the sandbox models; others are 404."""
    if entity not in allowed:
        abort(404)
    return entity


def check_user(data: Data, item: dict, key: str, errs: ItemErrors, *, robot_ok: bool = False) -> int | None:
    """A user reference must name an account user; ``created_by``/``updated_by`` may be 0 = robot (§4.4)."""
    value = errs.integer(item, key)
    if value is None:
        return None
    if (robot_ok and value == 0) or value in data["users"]:
        return value
    errs.add(NOT_SUPPORTED, key)
    return None


def matches_query(query: str | None, texts: list[str], custom_fields_values: list[dict] | None) -> bool:
    """``query=``: a case-insensitive substring of the entity's texts or of any custom field value as typed
    — so ``+79161234567`` and ``89161234567`` are both found by ``9161234567`` and not by each other (§5.2)."""
    if not query:
        return True
    parts = list(texts)
    for row in custom_fields_values or []:
        parts += [str(v.get("value")) for v in row["values"] if isinstance(v, dict)]
    return query.casefold() in "\n".join(parts).casefold()


# -- tags ----------------------------------------------------------------------------------------

@dataclass
class TagPlan:
    """Tag changes of one write, resolved to ids only when applied (new names create tags then)."""

    replace: list[dict] | None = None  # ``_embedded.tags`` (None = untouched, [] = remove all)
    add: list[dict] = field(default_factory=list)
    delete: list[dict] = field(default_factory=list)


def _tag_refs(raw: Any, path: str, data: Data, entity_type: str, errs: ItemErrors) -> list[dict]:
    if not isinstance(raw, list):
        errs.wrong_type(path, "array")
        return []
    refs = []
    for i, ref in enumerate(raw):
        if isinstance(ref, dict) and is_int(ref.get("id")):
            tag = data["tags"].get(ref["id"])
            if tag is None or tag["entity_type"] != entity_type:
                errs.add(NOT_SUPPORTED, f"{path}.{i}.id")
            refs.append({"id": ref["id"]})
        elif isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"].strip():
            refs.append({"name": ref["name"].strip()})
        else:
            errs.add(NOT_BLANK, f"{path}.{i}.name")
    return refs


def plan_tags(data: Data, entity_type: str, item: dict, errs: ItemErrors, *, updating: bool) -> TagPlan:
    plan = TagPlan()
    embedded = item.get("_embedded") if isinstance(item.get("_embedded"), dict) else {}
    if "tags" in embedded:
        raw = embedded["tags"]
        plan.replace = [] if raw is None else _tag_refs(raw, "_embedded.tags", data, entity_type, errs)
    if "tags_to_add" in item:
        plan.add = _tag_refs(item["tags_to_add"], "tags_to_add", data, entity_type, errs)
    if updating and "tags_to_delete" in item:
        plan.delete = _tag_refs(item["tags_to_delete"], "tags_to_delete", data, entity_type, errs)
    return plan


def _tag_id(data: Data, entity_type: str, ref: dict, create: bool) -> int | None:
    if "id" in ref:
        return ref["id"]
    name = ref["name"].casefold()
    for tag in data["tags"].values():
        if tag["entity_type"] == entity_type and tag["name"].casefold() == name:
            return tag["id"]
    if not create:
        return None
    tag_id = next_id(data, "tags")
    data["tags"][tag_id] = {"id": tag_id, "name": ref["name"], "color": None, "entity_type": entity_type}
    return tag_id


def apply_tags(data: Data, entity_type: str, current: list[int], plan: TagPlan) -> list[int]:
    ids = list(current) if plan.replace is None else []
    for ref in (plan.replace or []) + plan.add:
        tag_id = _tag_id(data, entity_type, ref, create=True)
        if tag_id not in ids:
            ids.append(tag_id)
    drop = {_tag_id(data, entity_type, ref, create=False) for ref in plan.delete}
    return [t for t in ids if t not in drop]


def render_tags(data: Data, ids: list[int]) -> list[dict]:
    return [{"id": t, "name": data["tags"][t]["name"], "color": data["tags"][t]["color"]}
            for t in ids if t in data["tags"]]


# -- links between leads and contacts ------------------------------------------------------------

def lead_contacts(data: Data, lead_id: int) -> list[dict]:
    return [row for row in data["links"] if row["lead_id"] == lead_id]


def contact_leads(data: Data, contact_id: int) -> list[dict]:
    return [row for row in data["links"] if row["contact_id"] == contact_id]


def link_contact(data: Data, lead_id: int, contact_id: int, is_main: bool | None) -> dict:
    """Link (or re-flag) a contact; a lead has one main contact, and its first contact becomes main
    when none is flagged — the card always shows one."""
    rows = lead_contacts(data, lead_id)
    row = next((r for r in rows if r["contact_id"] == contact_id), None)
    if row is None:
        row = {"lead_id": lead_id, "contact_id": contact_id, "main": False}
        data["links"].append(row)
    if is_main or not any(r["main"] for r in rows if r is not row):
        for other in rows:
            other["main"] = False
        row["main"] = True
    return row


def unlink_contact(data: Data, lead_id: int, contact_id: int) -> bool:
    before = len(data["links"])
    data["links"] = [r for r in data["links"] if not (r["lead_id"] == lead_id and r["contact_id"] == contact_id)]
    rest = lead_contacts(data, lead_id)
    if rest and not any(r["main"] for r in rest):
        rest[0]["main"] = True
    return len(data["links"]) != before


def embedded_contacts(data: Data, lead_id: int) -> list[dict]:
    return [{"id": r["contact_id"], "is_main": r["main"], "_links": link(f"/api/v4/contacts/{r['contact_id']}")}
            for r in lead_contacts(data, lead_id)]


# -- tasks summary -------------------------------------------------------------------------------

def closest_tasks(data: Data, entity_type: str) -> dict[int, int]:
    """entity id → earliest ``complete_till`` of its open tasks (``closest_task_at``)."""
    out: dict[int, int] = {}
    for task in data["tasks"].values():
        if task["entity_type"] == entity_type and not task["is_completed"] and task["entity_id"]:
            eid = task["entity_id"]
            out[eid] = min(out.get(eid, task["complete_till"]), task["complete_till"])
    return out
