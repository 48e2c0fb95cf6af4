"""Contacts (§5): search by ``query``, batch create/update, PHONE/EMAIL by ``field_code``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox import echoes
from amocrm_sandbox.api.creates import create_batch
from amocrm_sandbox.cf_values import apply_values, read_values
from amocrm_sandbox.entities import (
    TagPlan,
    apply_tags,
    check_user,
    closest_tasks,
    contact_leads,
    matches_query,
    plan_tags,
    render_tags,
)
from amocrm_sandbox.hal import link, page_of, write_result
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.query import dig, in_range, int_list, int_range, order_by, paging, php_args, with_set
from amocrm_sandbox.runtime import acting_user, rt
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    ItemErrors,
    batch_body,
    object_body,
    target_of,
    validate_batch,
)

bp = Blueprint("sandbox_contacts", __name__)

WRITABLE = ("name", "first_name", "last_name", "responsible_user_id", "created_by", "updated_by", "created_at",
            "updated_at", "custom_fields_values", "tags_to_add", "_embedded", "request_id")
EMBEDDED_WRITABLE = ("tags", "companies")


@dataclass
class ContactChange:
    """A validated write, applied only after every item of the batch passed."""

    values: dict[str, Any] = field(default_factory=dict)
    tags: TagPlan = field(default_factory=TagPlan)


def check_contact(data: Data, item: dict, errs: ItemErrors, current: dict | None = None) -> ContactChange:
    updating = current is not None
    errs.unexpected(item, WRITABLE + (("id", "tags_to_delete") if updating else ()))
    if isinstance(item.get("_embedded"), dict):
        errs.unexpected(item["_embedded"], EMBEDDED_WRITABLE, "_embedded.")
    change = ContactChange()
    for key in ("name", "first_name", "last_name"):
        if key in item and errs.string(item, key) is not None:
            change.values[key] = item[key]
    for key, robot_ok in (("responsible_user_id", False), ("created_by", True), ("updated_by", True)):
        if key in item and (user := check_user(data, item, key, errs, robot_ok=robot_ok)) is not None:
            change.values[key] = user
    for key in ("created_at", "updated_at"):
        if key in item and (ts := errs.integer(item, key, minimum=0)) is not None:
            change.values[key] = ts
    if "custom_fields_values" in item:
        before = current.get("custom_fields_values") if current else None
        change.values["custom_fields_values"] = apply_values(data, "contacts", before, item["custom_fields_values"],
                                                             errs)
    change.tags = plan_tags(data, "contacts", item, errs, updating=updating)
    return change


def apply_contact(data: Data, change: ContactChange, now: int, current: dict | None = None) -> dict:
    """Insert (``current`` None) or update a contact; ``name`` follows first/last name unless sent."""
    before = dict(current) if current is not None else None
    if current is None:
        cid = next_id(data, "contacts")
        current = {"id": cid, "name": "", "first_name": "", "last_name": "", "responsible_user_id": acting_user(),
                   "group_id": 0, "created_by": acting_user(), "updated_by": acting_user(), "created_at": now,
                   "updated_at": now, "is_deleted": False, "custom_fields_values": None, "tag_ids": []}
        data["contacts"][cid] = current
    else:
        current["updated_by"] = acting_user()
    current.update(change.values)
    if "updated_at" not in change.values:
        current["updated_at"] = now
    if "name" not in change.values and ({"first_name", "last_name"} & change.values.keys()):
        current["name"] = " ".join(p for p in (current["first_name"], current["last_name"]) if p)
    current["tag_ids"] = apply_tags(data, "contacts", current["tag_ids"], change.tags)
    echoes.note(data, "contacts", before, current)
    return current


def render_contact(data: Data, contact: dict, wanted: set[str], closest: dict[int, int]) -> dict:
    body = {k: contact[k] for k in ("id", "name", "first_name", "last_name", "responsible_user_id", "group_id",
                                     "created_by", "updated_by", "created_at", "updated_at")}
    body.update(closest_task_at=closest.get(contact["id"]), is_deleted=contact["is_deleted"], is_unsorted=False,
                custom_fields_values=read_values(data, contact["custom_fields_values"]),
                account_id=data["account"]["id"], _links=link(f"/api/v4/contacts/{contact['id']}"))
    embedded: dict[str, Any] = {"tags": render_tags(data, contact["tag_ids"]), "companies": []}
    if "leads" in wanted:
        embedded["leads"] = [{"id": r["lead_id"], "_links": link(f"/api/v4/leads/{r['lead_id']}")}
                             for r in contact_leads(data, contact["id"])]
    body["_embedded"] = embedded
    return body


def _matcher(args: dict[str, Any]) -> Callable[[dict], bool]:
    """Parse the filters once (bad ones → 400 before any work) and return the per-contact predicate."""
    lists = {key: int_list(dig(args, "filter", key), f"filter[{key}]") for key in ("id", "responsible_user_id")}
    ranges = {key: int_range(dig(args, "filter", key), f"filter[{key}]") for key in ("created_at", "updated_at")}
    names = dig(args, "filter", "name")
    names = None if names is None else set(names.values() if isinstance(names, dict) else [names])
    query = args.get("query") if isinstance(args.get("query"), str) else None

    def matches(contact: dict) -> bool:
        if any(wanted is not None and contact[key] not in wanted for key, wanted in lists.items()):
            return False
        if not all(in_range(contact[key], bounds) for key, bounds in ranges.items()):
            return False
        if names is not None and contact["name"] not in names:
            return False
        return matches_query(query, [contact["name"], contact["first_name"], contact["last_name"]],
                             contact["custom_fields_values"])

    return matches


@bp.get("/api/v4/contacts")
def list_contacts() -> Response:
    page, wanted, args = paging(), with_set(), php_args()
    matches = _matcher(args)
    key, desc = order_by(args, {"id", "updated_at"})
    with rt().store.read() as data:
        rows = [c for c in data["contacts"].values() if not c["is_deleted"] and matches(c)]
        rows.sort(key=lambda c: (c[key], c["id"]), reverse=desc)
        closest = closest_tasks(data, "contacts")
        return page_of("contacts", rows, page, lambda c: render_contact(data, c, wanted, closest))


@bp.get("/api/v4/contacts/<int:contact_id>")
def get_contact(contact_id: int) -> Response:
    with rt().store.read() as data:
        contact = data["contacts"].get(contact_id)
        if contact is None or contact["is_deleted"]:
            return no_content()
        return json_response(render_contact(data, contact, with_set(), closest_tasks(data, "contacts")))


@bp.post("/api/v4/contacts")
def create_contacts() -> Response:
    return create_batch("contacts", check_contact, apply_contact)


def _update_answer(contact: dict) -> dict:
    return {"id": contact["id"], "name": contact["name"], "updated_at": contact["updated_at"],
            "_links": link(f"/api/v4/contacts/{contact['id']}")}


@bp.patch("/api/v4/contacts")
def update_contacts() -> Response:
    items, runtime = batch_body(), rt()
    with runtime.store.write() as data:
        def check(item: dict, errs: ItemErrors) -> tuple[dict, ContactChange] | None:
            contact = target_of(data["contacts"], item, errs)
            return (contact, check_contact(data, item, errs, contact)) if contact else None

        planned = validate_batch(items, check)
        out = [_update_answer(apply_contact(data, change, runtime.ts(), contact)) for contact, change in planned]
        return write_result("contacts", out)


@bp.patch("/api/v4/contacts/<int:contact_id>")
def update_contact(contact_id: int) -> Response:
    item, runtime = object_body(), rt()
    with runtime.store.write() as data:
        contact = data["contacts"].get(contact_id)
        if contact is None:
            raise ApiError(404, "Contact not found")
        [change] = validate_batch([item], lambda obj, errs: check_contact(data, obj, errs, contact))
        return json_response(_update_answer(apply_contact(data, change, runtime.ts(), contact)))
