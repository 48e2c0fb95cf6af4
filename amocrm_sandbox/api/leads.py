"""Leads (§4): filters incl. ``filter[statuses]``, batch create/update, moves between pipelines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox import echoes
from amocrm_sandbox.api.creates import create_batch
from amocrm_sandbox.api.pipelines import first_stage, main_pipeline
from amocrm_sandbox.cf_values import apply_values, read_values
from amocrm_sandbox.entities import (
    TagPlan,
    apply_tags,
    check_user,
    closest_tasks,
    embedded_contacts,
    link_contact,
    matches_query,
    plan_tags,
    render_tags,
)
from amocrm_sandbox.hal import link, page_of, write_result
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.query import dig, in_range, int_list, int_range, order_by, paging, php_args, with_set
from amocrm_sandbox.runtime import acting_user, rt
from amocrm_sandbox.seed import LOST, WON
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    NOT_SUPPORTED,
    ItemErrors,
    batch_body,
    is_int,
    object_body,
    target_of,
    validate_batch,
)

bp = Blueprint("sandbox_leads", __name__)

WRITABLE = ("name", "price", "status_id", "pipeline_id", "created_by", "updated_by", "created_at", "updated_at",
            "closed_at", "loss_reason_id", "responsible_user_id", "custom_fields_values", "tags_to_add",
            "_embedded", "request_id")
EMBEDDED_WRITABLE = ("tags", "contacts", "companies", "source")


@dataclass
class LeadChange:
    values: dict[str, Any] = field(default_factory=dict)
    stage: tuple[int, int] | None = None
    tags: TagPlan = field(default_factory=TagPlan)
    contacts: list[tuple[int, bool]] = field(default_factory=list)


def resolve_stage(data: Data, item: dict, errs: ItemErrors, current: dict | None) -> tuple[int, int] | None:
    """(pipeline_id, status_id) after this write. 142/143 exist in every pipeline, so a bare 142/143 means
    the lead's own (or the main) pipeline; any other status id names its pipeline by itself."""
    if "pipeline_id" not in item and "status_id" not in item:
        if current:
            return None
        pipeline = main_pipeline(data)
        return pipeline["id"], first_stage(pipeline)["id"]
    pipeline = None
    if "pipeline_id" in item:
        pid = errs.integer(item, "pipeline_id")
        pipeline = data["pipelines"].get(pid) if pid is not None else None
        if pid is not None and pipeline is None:
            errs.add(NOT_SUPPORTED, "pipeline_id")
        if pipeline is None:
            return None
    if "status_id" not in item:
        keep = current and current["pipeline_id"] == pipeline["id"]
        return pipeline["id"], current["status_id"] if keep else first_stage(pipeline)["id"]
    sid = errs.integer(item, "status_id")
    if sid is None:
        return None
    if pipeline is None:
        if sid in (WON, LOST):
            pipeline = data["pipelines"][current["pipeline_id"]] if current else main_pipeline(data)
        else:
            pipeline = next((p for p in data["pipelines"].values() if any(s["id"] == sid for s in p["statuses"])),
                            None)
    if pipeline is None or not any(s["id"] == sid for s in pipeline["statuses"]):
        errs.add(NOT_SUPPORTED, "status_id")
        return None
    return pipeline["id"], sid


def _contacts_to_link(data: Data, item: dict, errs: ItemErrors) -> list[tuple[int, bool]]:
    raw = (item.get("_embedded") or {}).get("contacts")
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.wrong_type("_embedded.contacts", "array")
        return []
    out = []
    for i, ref in enumerate(raw):
        cid = ref.get("id") if isinstance(ref, dict) else None
        if not is_int(cid) or cid not in data["contacts"]:
            errs.add(NOT_SUPPORTED, f"_embedded.contacts.{i}.id")
            continue
        out.append((cid, bool(ref.get("is_main"))))
    return out


def check_lead(data: Data, item: dict, errs: ItemErrors, current: dict | None = None,
               embedded_allowed: tuple[str, ...] = EMBEDDED_WRITABLE) -> LeadChange:
    updating = current is not None
    errs.unexpected(item, WRITABLE + (("id", "tags_to_delete") if updating else ()))
    if "_embedded" in item and not isinstance(item["_embedded"], dict):
        errs.wrong_type("_embedded", "object")
    elif isinstance(item.get("_embedded"), dict):
        errs.unexpected(item["_embedded"], embedded_allowed, "_embedded.")
    change = LeadChange()
    if "name" in item and errs.string(item, "name") is not None:
        change.values["name"] = item["name"]
    if "price" in item and (price := errs.integer(item, "price", minimum=0)) is not None:
        change.values["price"] = price
    for key, robot_ok in (("responsible_user_id", False), ("created_by", True), ("updated_by", True)):
        if key in item and (user := check_user(data, item, key, errs, robot_ok=robot_ok)) is not None:
            change.values[key] = user
    for key in ("created_at", "updated_at", "closed_at", "loss_reason_id"):
        if key in item:
            change.values[key] = errs.integer(item, key, nullable=key in ("closed_at", "loss_reason_id"), minimum=0)
    change.stage = resolve_stage(data, item, errs, current)
    if "custom_fields_values" in item:
        before = current.get("custom_fields_values") if current else None
        change.values["custom_fields_values"] = apply_values(data, "leads", before, item["custom_fields_values"],
                                                             errs)
    change.tags = plan_tags(data, "leads", item, errs, updating=updating)
    if not updating:  # linking through PATCH is not a thing: amoCRM ignores it (§4.6) and so do we
        change.contacts = _contacts_to_link(data, item, errs)
    return change


def apply_lead(data: Data, change: LeadChange, now: int, current: dict | None = None) -> dict:
    before = dict(current) if current is not None else None
    if current is None:
        lid = next_id(data, "leads")
        current = {"id": lid, "name": f"Сделка #{lid}", "price": 0, "responsible_user_id": acting_user(),
                   "group_id": 0, "status_id": 0, "pipeline_id": 0, "loss_reason_id": None,
                   "created_by": acting_user(), "updated_by": acting_user(), "created_at": now, "updated_at": now,
                   "closed_at": None, "is_deleted": False, "custom_fields_values": None, "score": None,
                   "labor_cost": None, "tag_ids": []}
        data["leads"][lid] = current
    else:
        current["updated_by"] = acting_user()
    if change.stage is not None and change.stage != (current["pipeline_id"], current["status_id"]):
        current["pipeline_id"], current["status_id"] = change.stage
        closing = current["status_id"] in (WON, LOST)
        current["closed_at"] = now if closing else None  # moving to 142/143 closes the lead (§4.7)
    current.update(change.values)
    if current["status_id"] != LOST:
        current["loss_reason_id"] = None  # meaningful only with 143
    if "updated_at" not in change.values:
        current["updated_at"] = now
    current["tag_ids"] = apply_tags(data, "leads", current["tag_ids"], change.tags)
    for contact_id, is_main in change.contacts:
        link_contact(data, current["id"], contact_id, is_main)
    echoes.note(data, "leads", before, current)
    return current


def render_lead(data: Data, lead: dict, wanted: set[str], closest: dict[int, int]) -> dict:
    body = {k: lead[k] for k in ("id", "name", "price", "responsible_user_id", "group_id", "status_id",
                                  "pipeline_id", "loss_reason_id", "created_by", "updated_by", "created_at",
                                  "updated_at", "closed_at")}
    body.update(closest_task_at=closest.get(lead["id"]), is_deleted=lead["is_deleted"],
                custom_fields_values=read_values(data, lead["custom_fields_values"]), score=lead["score"],
                account_id=data["account"]["id"], labor_cost=lead["labor_cost"],
                _links=link(f"/api/v4/leads/{lead['id']}"))
    embedded: dict[str, Any] = {"tags": render_tags(data, lead["tag_ids"]), "companies": []}
    if "contacts" in wanted:
        embedded["contacts"] = embedded_contacts(data, lead["id"])
    body["_embedded"] = embedded
    return body


def _status_pairs(args: dict[str, Any]) -> list[tuple[int, int]] | None:
    raw = dig(args, "filter", "statuses")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ApiError(400, "filter[statuses] must be an array of {pipeline_id, status_id}")
    pairs = []
    for index, pair in raw.items():
        try:
            pairs.append((int(pair["pipeline_id"]), int(pair["status_id"])))
        except (TypeError, KeyError, ValueError):
            raise ApiError(400, f"filter[statuses][{index}] needs both pipeline_id and status_id") from None
    return pairs


def _matcher(args: dict[str, Any], closest: dict[int, int]) -> Callable[[dict], bool]:
    """Parse the filters once (bad ones → 400 before any work) and return the per-lead predicate."""
    lists = {key: int_list(dig(args, "filter", key), f"filter[{key}]")
             for key in ("id", "pipeline_id", "responsible_user_id", "created_by", "updated_by")}
    ranges = {key: int_range(dig(args, "filter", key), f"filter[{key}]")
              for key in ("created_at", "updated_at", "closed_at")}
    closest_range = int_range(dig(args, "filter", "closest_task_at"), "filter[closest_task_at]")
    price = int_range(dig(args, "filter", "price"), "filter[price]")
    names = dig(args, "filter", "name")
    names = None if names is None else set(names.values() if isinstance(names, dict) else [names])
    pairs = _status_pairs(args)
    query = args.get("query") if isinstance(args.get("query"), str) else None

    def matches(lead: dict) -> bool:
        if any(wanted is not None and lead[key] not in wanted for key, wanted in lists.items()):
            return False
        if not all(in_range(lead[key], bounds) for key, bounds in ranges.items()):
            return False
        if not in_range(closest.get(lead["id"]), closest_range) or not in_range(lead["price"], price):
            return False
        if names is not None and lead["name"] not in names:
            return False
        if pairs is not None and (lead["pipeline_id"], lead["status_id"]) not in pairs:
            return False
        return matches_query(query, [lead["name"], str(lead["id"]), str(lead["price"])],
                             lead["custom_fields_values"])

    return matches


@bp.get("/api/v4/leads")
def list_leads() -> Response:
    page, wanted, args = paging(), with_set(), php_args()
    key, desc = order_by(args, {"id", "created_at", "updated_at"})
    with rt().store.read() as data:
        closest = closest_tasks(data, "leads")
        matches = _matcher(args, closest)
        rows = [lead for lead in data["leads"].values() if not lead["is_deleted"] and matches(lead)]
        rows.sort(key=lambda lead: (lead[key], lead["id"]), reverse=desc)
        return page_of("leads", rows, page, lambda lead: render_lead(data, lead, wanted, closest))


@bp.get("/api/v4/leads/<int:lead_id>")
def get_lead(lead_id: int) -> Response:
    with rt().store.read() as data:
        lead = data["leads"].get(lead_id)
        if lead is None or lead["is_deleted"]:
            return no_content()  # documented as 204, not 404 (§1)
        return json_response(render_lead(data, lead, with_set(), closest_tasks(data, "leads")))


@bp.post("/api/v4/leads")
def create_leads() -> Response:
    return create_batch("leads", check_lead, apply_lead)


def _update_answer(lead: dict) -> dict:
    return {"id": lead["id"], "updated_at": lead["updated_at"], "_links": link(f"/api/v4/leads/{lead['id']}")}


@bp.patch("/api/v4/leads")
def update_leads() -> Response:
    items, runtime = batch_body(), rt()
    with runtime.store.write() as data:
        def check(item: dict, errs: ItemErrors) -> tuple[dict, LeadChange] | None:
            lead = target_of(data["leads"], item, errs)
            return (lead, check_lead(data, item, errs, lead)) if lead else None

        planned = validate_batch(items, check)
        out = [_update_answer(apply_lead(data, change, runtime.ts(), lead)) for lead, change in planned]
        return write_result("leads", out)


@bp.patch("/api/v4/leads/<int:lead_id>")
def update_lead(lead_id: int) -> Response:
    item, runtime = object_body(), rt()
    with runtime.store.write() as data:
        lead = data["leads"].get(lead_id)
        if lead is None:
            raise ApiError(404, "Lead not found")
        [change] = validate_batch([item], lambda obj, errs: check_lead(data, obj, errs, lead))
        return json_response(_update_answer(apply_lead(data, change, runtime.ts(), lead)))
