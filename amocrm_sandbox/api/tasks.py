"""Tasks (§7): ``text`` and ``complete_till`` required, completion with ``result.text``, ``result: []``
when empty, and the ``filter[entity_id]``-needs-``filter[entity_type]`` quirk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox import echoes
from amocrm_sandbox.api.creates import create_batch
from amocrm_sandbox.entities import check_user
from amocrm_sandbox.hal import link, page_of, write_result
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.query import dig, flag01, in_range, int_list, int_range, order_by, paging, php_args
from amocrm_sandbox.runtime import acting_user, rt
from amocrm_sandbox.seed import TASK_TYPES
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    NOT_BLANK,
    NOT_SUPPORTED,
    ItemErrors,
    batch_body,
    is_int,
    object_body,
    request_id_of,
    target_of,
    validate_batch,
)

bp = Blueprint("sandbox_tasks", __name__)

WRITABLE = ("responsible_user_id", "entity_id", "entity_type", "is_completed", "task_type_id", "text", "duration",
            "complete_till", "result", "created_by", "updated_by", "created_at", "updated_at", "request_id")
ENTITY_TYPES = ("leads", "contacts")  # companies/customers are not modelled by the sandbox
TASK_TYPE_IDS = {t["id"] for t in TASK_TYPES}


def check_task(data: Data, item: dict, errs: ItemErrors, current: dict | None = None) -> dict[str, Any]:
    """Validated field changes of one task."""
    creating = current is None
    errs.unexpected(item, WRITABLE + (() if creating else ("id",)))
    values: dict[str, Any] = {}
    text = errs.string(item, "text", required=creating)
    if text is not None:
        values["text"] = text
    till = errs.integer(item, "complete_till", required=creating)
    if till is not None:
        values["complete_till"] = till
    for key in ("duration", "created_at", "updated_at"):
        if key in item and (number := errs.integer(item, key, minimum=0)) is not None:
            values[key] = number
    if "task_type_id" in item and (type_id := errs.integer(item, "task_type_id")) is not None:
        if type_id in TASK_TYPE_IDS:
            values["task_type_id"] = type_id
        else:
            errs.add(NOT_SUPPORTED, "task_type_id")
    for key, robot_ok in (("responsible_user_id", False), ("created_by", True), ("updated_by", True)):
        if key in item and (user := check_user(data, item, key, errs, robot_ok=robot_ok)) is not None:
            values[key] = user
    if "is_completed" in item and errs.boolean(item, "is_completed") is not None:
        values["is_completed"] = item["is_completed"]
    if "result" in item:
        result = item["result"]
        if not (isinstance(result, dict) and isinstance(result.get("text"), str)):
            errs.wrong_type("result.text", "string")
        else:
            values["result"] = {"text": result["text"]}
    values.update(_entity(data, item, errs, current))
    return values


def _entity(data: Data, item: dict, errs: ItemErrors, current: dict | None) -> dict[str, Any]:
    if "entity_id" not in item and "entity_type" not in item:
        return {}
    etype = item.get("entity_type", current["entity_type"] if current else None)
    eid = item.get("entity_id", current["entity_id"] if current else None)
    if etype not in ENTITY_TYPES:
        errs.add(NOT_SUPPORTED if etype is not None else NOT_BLANK, "entity_type")
        return {}
    if not is_int(eid) or eid not in data[etype]:
        errs.add(NOT_SUPPORTED if eid is not None else NOT_BLANK, "entity_id")
        return {}
    return {"entity_type": etype, "entity_id": eid}


def apply_task(data: Data, values: dict[str, Any], now: int, current: dict | None = None) -> dict:
    before = dict(current) if current is not None else None
    if current is None:
        tid = next_id(data, "tasks")
        current = {"id": tid, "created_by": acting_user(), "updated_by": acting_user(), "created_at": now,
                   "updated_at": now, "responsible_user_id": acting_user(), "group_id": 0, "entity_id": None,
                   "entity_type": None, "duration": 0, "is_completed": False, "task_type_id": 1, "text": "",
                   "result": [], "complete_till": now}
        data["tasks"][tid] = current
    else:
        current["updated_by"] = acting_user()
    current.update(values)
    if "updated_at" not in values:
        current["updated_at"] = now
    echoes.note(data, "tasks", before, current)
    return current


def render_task(data: Data, task: dict) -> dict:
    body = {k: task[k] for k in ("id", "created_by", "updated_by", "created_at", "updated_at",
                                  "responsible_user_id", "group_id", "entity_id", "entity_type", "duration",
                                  "is_completed", "task_type_id", "text")}
    body["result"] = task["result"] or []  # PHP serializes an empty result as [] (§7.3)
    body.update(complete_till=task["complete_till"], account_id=data["account"]["id"],
                _links=link(f"/api/v4/tasks/{task['id']}"))
    return body


def _filters(args: dict[str, Any]) -> list[tuple[str, Callable[[Any], bool]]]:
    """Parsed filters as (field, predicate) pairs; ``filter[entity_id]`` only counts together with
    ``filter[entity_type]``, as amoCRM ignores it otherwise (§7.2)."""
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for key, name in (("id", "id"), ("responsible_user_id", "responsible_user_id"), ("task_type", "task_type_id"),
                      ("task_type_id", "task_type_id")):
        wanted = int_list(dig(args, "filter", key), f"filter[{key}]")
        if wanted is not None:
            checks.append((name, lambda v, w=wanted: v in w))
    entity_type = dig(args, "filter", "entity_type")
    if entity_type is not None:
        checks.append(("entity_type", lambda v, w=entity_type: v == w))
        entity_ids = int_list(dig(args, "filter", "entity_id"), "filter[entity_id]")
        if entity_ids is not None:
            checks.append(("entity_id", lambda v, w=entity_ids: v in w))
    completed = flag01(dig(args, "filter", "is_completed"), "filter[is_completed]")
    if completed is not None:
        checks.append(("is_completed", lambda v, w=completed: v == w))
    updated = int_range(dig(args, "filter", "updated_at"), "filter[updated_at]")
    if updated is not None:
        checks.append(("updated_at", lambda v, w=updated: in_range(v, w)))
    return checks


@bp.get("/api/v4/tasks")
def list_tasks() -> Response:
    page, args = paging(), php_args()
    checks = _filters(args)
    key, desc = order_by(args, {"id", "created_at", "complete_till"})
    with rt().store.read() as data:
        rows = [t for t in data["tasks"].values() if all(check(t[name]) for name, check in checks)]
        rows.sort(key=lambda t: (t[key], t["id"]), reverse=desc)
        return page_of("tasks", rows, page, lambda t: render_task(data, t))


@bp.get("/api/v4/tasks/<int:task_id>")
def get_task(task_id: int) -> Response:
    with rt().store.read() as data:
        task = data["tasks"].get(task_id)
        return json_response(render_task(data, task)) if task else no_content()


@bp.post("/api/v4/tasks")
def create_tasks() -> Response:
    return create_batch("tasks", check_task, apply_task)


def _update_answer(task: dict, request_id: str) -> dict:
    return {"id": task["id"], "updated_at": task["updated_at"], "request_id": request_id,
            "_links": link(f"/api/v4/tasks/{task['id']}")}


@bp.patch("/api/v4/tasks")
def update_tasks() -> Response:
    items, runtime = batch_body(), rt()
    with runtime.store.write() as data:
        def check(item: dict, errs: ItemErrors) -> tuple[dict, dict] | None:
            task = target_of(data["tasks"], item, errs)
            return (task, check_task(data, item, errs, task)) if task else None

        planned = validate_batch(items, check)
        out = [_update_answer(apply_task(data, values, runtime.ts(), task), request_id_of(item, index))
               for index, (item, (task, values)) in enumerate(zip(items, planned, strict=True))]
        return write_result("tasks", out)


@bp.patch("/api/v4/tasks/<int:task_id>")
def update_task(task_id: int) -> Response:
    item, runtime = object_body(), rt()
    with runtime.store.write() as data:
        task = data["tasks"].get(task_id)
        if task is None:
            raise ApiError(404, "Task not found")
        [values] = validate_batch([item], lambda obj, errs: check_task(data, obj, errs, task))
        return json_response(_update_answer(apply_task(data, values, runtime.ts(), task), request_id_of(item, 0)))
