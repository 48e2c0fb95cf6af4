"""Notes of leads and contacts (§8): ``common`` and ``service_message`` among the writable types,
both URL forms, and the per-entity ``_links`` of created notes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox.entities import check_user, known_entity
from amocrm_sandbox.hal import link, page_of, write_result
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.query import dig, in_range, int_list, int_range, order_by, paging, php_args, str_list
from amocrm_sandbox.runtime import acting_user, rt
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    NOT_BLANK,
    NOT_SUPPORTED,
    ItemErrors,
    batch_body,
    request_id_of,
    validate_batch,
)

bp = Blueprint("sandbox_notes", __name__)

ENTITIES = ("leads", "contacts")
WRITABLE = ("entity_id", "note_type", "params", "created_by", "responsible_user_id", "request_id",
            "is_need_to_trigger_digital_pipeline", "created_at", "updated_at")
# Required ``params`` keys per writable note type (§8.2); others are stored as sent.
REQUIRED_PARAMS = {
    "common": ("text",), "service_message": ("service", "text"), "extended_service_message": ("service", "text"),
    "sms_in": ("text", "phone"), "sms_out": ("text", "phone"), "call_in": ("uniq", "duration", "source", "phone"),
    "call_out": ("uniq", "duration", "source", "phone"), "message_cashier": ("status", "text"),
    "geolocation": ("text", "address", "longitude", "latitude"), "attachment": ("file_uuid", "file_name"),
}


def _check(data: Data, entity: str, item: dict, errs: ItemErrors, path_entity_id: int | None) -> dict[str, Any]:
    errs.unexpected(item, WRITABLE)
    entity_id = path_entity_id if path_entity_id is not None else errs.integer(item, "entity_id", required=True)
    if entity_id is not None and entity_id not in data[entity]:
        errs.add(NOT_SUPPORTED, "entity_id")
    note_type = item.get("note_type")
    if note_type is None:
        errs.add(NOT_BLANK, "note_type")
    elif note_type not in REQUIRED_PARAMS:
        errs.add(NOT_SUPPORTED, "note_type")
    params = item.get("params")
    if not isinstance(params, dict):
        errs.wrong_type("params", "object")
    elif note_type in REQUIRED_PARAMS:
        for key in REQUIRED_PARAMS[note_type]:
            if params.get(key) in (None, ""):
                errs.add(NOT_BLANK, f"params.{key}")
    for key, robot_ok in (("created_by", True), ("responsible_user_id", False)):
        if key in item:
            check_user(data, item, key, errs, robot_ok=robot_ok)
    return {"entity_id": entity_id, "note_type": note_type, "params": params,
            **{k: item[k] for k in ("created_by", "responsible_user_id", "created_at", "updated_at") if k in item}}


def _insert(data: Data, entity: str, values: dict[str, Any], now: int) -> dict:
    nid = next_id(data, "notes")
    note = {"id": nid, "entity_type": entity, "entity_id": values["entity_id"], "created_by": acting_user(),
            "updated_by": acting_user(), "created_at": now, "updated_at": now,
            "responsible_user_id": acting_user(), "group_id": 0, "note_type": values["note_type"],
            "params": values["params"]}
    note.update({k: v for k, v in values.items() if k in ("created_by", "responsible_user_id", "created_at",
                                                           "updated_at")})
    data["notes"][nid] = note
    return note


def _note_path(note: dict) -> str:
    return f"/api/v4/{note['entity_type']}/{note['entity_id']}/notes/{note['id']}"


def render_note(data: Data, note: dict) -> dict:
    body = {k: note[k] for k in ("id", "entity_id", "created_by", "updated_by", "created_at", "updated_at",
                                  "responsible_user_id", "group_id", "note_type", "params")}
    body.update(account_id=data["account"]["id"], _links=link(_note_path(note)))
    return body


def _list(entity: str, entity_id: int | None) -> Response:
    page, args = paging(), php_args()
    ids = int_list(dig(args, "filter", "id"), "filter[id]")
    entity_ids = [entity_id] if entity_id is not None else int_list(dig(args, "filter", "entity_id"),
                                                                    "filter[entity_id]")
    types = str_list(dig(args, "filter", "note_type"))
    updated = int_range(dig(args, "filter", "updated_at"), "filter[updated_at]")
    key, desc = order_by(args, {"id", "updated_at"})
    with rt().store.read() as data:
        rows = [n for n in data["notes"].values() if n["entity_type"] == entity
                and (ids is None or n["id"] in ids) and (entity_ids is None or n["entity_id"] in entity_ids)
                and (types is None or n["note_type"] in types) and in_range(n["updated_at"], updated)]
        rows.sort(key=lambda n: (n[key], n["id"]), reverse=desc)
        return page_of("notes", rows, page, lambda n: render_note(data, n))


def _create(entity: str, entity_id: int | None) -> Response:
    items, runtime = batch_body(), rt()
    with runtime.store.write() as data:
        planned = validate_batch(items, lambda item, errs: _check(data, entity, item, errs, entity_id))
        out = []
        for index, (item, values) in enumerate(zip(items, planned, strict=True)):
            note = _insert(data, entity, values, runtime.ts())
            out.append({"id": note["id"], "entity_id": note["entity_id"], "request_id": request_id_of(item, index),
                        "_links": link(_note_path(note))})
        return write_result("notes", out)


@bp.get("/api/v4/<entity>/notes")
def list_all(entity: str) -> Response:
    return _list(known_entity(entity, ENTITIES), None)


@bp.get("/api/v4/<entity>/<int:entity_id>/notes")
def list_of_entity(entity: str, entity_id: int) -> Response:
    return _list(known_entity(entity, ENTITIES), entity_id)


@bp.get("/api/v4/<entity>/<int:entity_id>/notes/<int:note_id>")
def get_note(entity: str, entity_id: int, note_id: int) -> Response:
    entity = known_entity(entity, ENTITIES)
    with rt().store.read() as data:
        note = data["notes"].get(note_id)
        if note is None or note["entity_type"] != entity or note["entity_id"] != entity_id:
            return no_content()
        return json_response(render_note(data, note))


@bp.post("/api/v4/<entity>/notes")
def create_many(entity: str) -> Response:
    return _create(known_entity(entity, ENTITIES), None)


@bp.post("/api/v4/<entity>/<int:entity_id>/notes")
def create_for_entity(entity: str, entity_id: int) -> Response:
    return _create(known_entity(entity, ENTITIES), entity_id)

