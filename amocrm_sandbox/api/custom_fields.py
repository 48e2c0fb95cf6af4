"""Custom field definitions of leads and contacts (§9.1–9.3): list, create (201), edit, delete."""

from __future__ import annotations

from flask import Blueprint, Response

from amocrm_sandbox.cf_values import CODED_TYPES, ENUM_TYPES
from amocrm_sandbox.entities import known_entity
from amocrm_sandbox.hal import collection, link, page_of
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.query import dig, paging, php_args, str_list
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.seed import new_enums
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    NOT_BLANK,
    NOT_EXPECTED,
    NOT_SUPPORTED,
    ItemErrors,
    batch_body,
    is_int,
    object_body,
    request_id_of,
    target_of,
    validate_batch,
)

bp = Blueprint("sandbox_custom_fields", __name__)

ENTITIES = ("leads", "contacts")
# Types per entity (§9.3 availability table); multitext is contacts-only, tracking_data leads-only.
COMMON_TYPES = {"text", "numeric", "checkbox", "select", "multiselect", "date", "url", "textarea",
                "radiobutton", "streetaddress", "smart_address", "birthday", "legal_entity", "date_time",
                "monetary", "file"}
TYPES = {"leads": COMMON_TYPES | {"tracking_data", "chained_list"}, "contacts": COMMON_TYPES | {"multitext"}}
WRITABLE = ("type", "name", "code", "sort", "group_id", "is_api_only", "required_statuses", "enums", "remind",
            "hidden_statuses", "chained_lists", "search_in", "currency", "tracking_callback", "request_id")


def render_field(data: Data, field: dict) -> dict:
    body = {k: field.get(k) for k in ("id", "name", "type", "code", "sort", "entity_type", "is_api_only",
                                       "group_id", "required_statuses", "remind", "currency", "hidden_statuses")}
    if field["entity_type"] == "contacts":
        body.update(is_predefined=field["is_predefined"], is_deletable=field["is_deletable"])
    else:
        body["is_computed"] = False
    body["enums"] = [dict(e) for e in field["enums"]] if field.get("enums") else None
    body["account_id"] = data["account"]["id"]
    body["_links"] = link(f"/api/v4/{field['entity_type']}/custom_fields/{field['id']}")
    return body


def _fields(data: Data, entity: str) -> list[dict]:
    return sorted((f for f in data["custom_fields"].values() if f["entity_type"] == entity),
                  key=lambda f: (f["sort"], f["id"]))


def _check_enums(raw: object, errs: ItemErrors, required: bool) -> None:
    if raw is None:
        if required:
            errs.add(NOT_BLANK, "enums")
        return
    if not isinstance(raw, list) or (required and not raw):
        errs.wrong_type("enums", "array")
        return
    for i, enum in enumerate(raw):
        if not isinstance(enum, dict):
            errs.wrong_type(f"enums.{i}", "object")
            continue
        errs.unexpected(enum, ("id", "value", "sort", "code"), f"enums.{i}.")
        errs.string(enum, "value", required=True, path=f"enums.{i}.value")
        errs.integer(enum, "sort", path=f"enums.{i}.sort")


def _check_field(data: Data, entity: str, item: dict, errs: ItemErrors, current: dict | None) -> None:
    errs.unexpected(item, WRITABLE + (("id",) if current else ()))
    ftype = current["type"] if current else errs.string(item, "type", required=True)
    if current is None and ftype is not None and ftype not in TYPES[entity]:
        errs.add(NOT_SUPPORTED, "type")
    errs.string(item, "name", required=current is None)
    errs.string(item, "code")
    errs.integer(item, "sort")
    errs.boolean(item, "is_api_only")
    if ftype in ENUM_TYPES:
        _check_enums(item.get("enums"), errs, required=current is None)
    elif "enums" in item and ftype not in CODED_TYPES:
        errs.add(NOT_EXPECTED, "enums")
    for i, rs in enumerate(item.get("required_statuses") or []):
        if not (isinstance(rs, dict) and _stage_exists(data, rs.get("pipeline_id"), rs.get("status_id"))):
            errs.add(NOT_SUPPORTED, f"required_statuses.{i}")


def _stage_exists(data: Data, pipeline_id: object, status_id: object) -> bool:
    pipeline = data["pipelines"].get(pipeline_id) if is_int(pipeline_id) else None
    return bool(pipeline) and any(s["id"] == status_id for s in pipeline["statuses"])


def _new_field(data: Data, entity: str, item: dict, now: int) -> dict:
    fid = next_id(data, "custom_fields")
    return {
        "id": fid, "name": item["name"], "type": item["type"], "code": item.get("code"),
        "sort": item.get("sort", 500), "entity_type": entity,
        "is_api_only": item.get("is_api_only", False), "is_predefined": False, "is_deletable": True,
        "group_id": item.get("group_id"), "required_statuses": item.get("required_statuses") or [],
        "remind": item.get("remind"), "currency": item.get("currency"),
        "hidden_statuses": item.get("hidden_statuses") or [],
        "enums": new_enums(data, item["enums"]) if item.get("enums") else None, "created_at": now,
    }


def _update_field(data: Data, field: dict, item: dict) -> None:
    for key in ("name", "code", "sort", "is_api_only", "group_id", "required_statuses", "remind", "currency",
                "hidden_statuses"):
        if key in item:
            field[key] = item[key]
    if "enums" in item and field["type"] in ENUM_TYPES:
        # The sent list is the new list: enums with an id are kept (value/sort updated), others created.
        old = {e["id"]: e for e in field["enums"] or []}
        kept = [{**old[e["id"]], **{k: e[k] for k in ("value", "sort", "code") if k in e}}
                for e in item["enums"] if e.get("id") in old]
        field["enums"] = kept + new_enums(data, [e for e in item["enums"] if e.get("id") not in old])


@bp.get("/api/v4/<entity>/custom_fields")
def list_fields(entity: str) -> Response:
    entity, page = known_entity(entity, ENTITIES), paging()
    types = str_list(dig(php_args(), "filter", "type"))
    with rt().store.read() as data:
        rows = [f for f in _fields(data, entity) if not types or f["type"] in types]
        return page_of("custom_fields", rows, page, lambda f: render_field(data, f), counts=True)


@bp.get("/api/v4/<entity>/custom_fields/<int:field_id>")
def get_field(entity: str, field_id: int) -> Response:
    entity = known_entity(entity, ENTITIES)
    with rt().store.read() as data:
        return json_response(render_field(data, _field_or_404(data, entity, field_id)))


def _field_or_404(data: Data, entity: str, field_id: int) -> dict:
    field = data["custom_fields"].get(field_id)
    if field is None or field["entity_type"] != entity:
        raise ApiError(404, "Custom field not found")
    return field


@bp.post("/api/v4/<entity>/custom_fields")
def create_fields(entity: str) -> Response:
    entity, items, runtime = known_entity(entity, ENTITIES), batch_body(), rt()
    with runtime.store.write() as data:
        validate_batch(items, lambda item, errs: _check_field(data, entity, item, errs, None))
        out = []
        for index, item in enumerate(items):
            field = _new_field(data, entity, item, runtime.ts())
            data["custom_fields"][field["id"]] = field
            out.append({**render_field(data, field), "request_id": request_id_of(item, index)})
        return collection("custom_fields", out, total=True, status=201)


@bp.patch("/api/v4/<entity>/custom_fields")
def update_fields(entity: str) -> Response:
    entity, items = known_entity(entity, ENTITIES), batch_body()
    with rt().store.write() as data:
        def check(item: dict, errs: ItemErrors) -> dict | None:
            field = target_of({f["id"]: f for f in _fields(data, entity)}, item, errs)
            if field is not None:
                _check_field(data, entity, item, errs, field)
            return field

        fields = validate_batch(items, check)
        for field, item in zip(fields, items, strict=True):
            _update_field(data, field, item)
        return collection("custom_fields", [render_field(data, f) for f in fields], total=True)


@bp.patch("/api/v4/<entity>/custom_fields/<int:field_id>")
def update_field(entity: str, field_id: int) -> Response:
    entity, item = known_entity(entity, ENTITIES), object_body()
    with rt().store.write() as data:
        field = _field_or_404(data, entity, field_id)
        validate_batch([item], lambda obj, errs: _check_field(data, entity, obj, errs, field))
        _update_field(data, field, item)
        return json_response(render_field(data, field))


@bp.delete("/api/v4/<entity>/custom_fields/<int:field_id>")
def delete_field(entity: str, field_id: int) -> Response:
    entity = known_entity(entity, ENTITIES)
    with rt().store.write() as data:
        field = _field_or_404(data, entity, field_id)
        if not field["is_deletable"]:
            raise ApiError(400, "A predefined field can not be deleted")
        del data["custom_fields"][field_id]
        for record in data[entity].values():  # all its values go with it (§9.1)
            values = [v for v in record.get("custom_fields_values") or [] if v["field_id"] != field_id]
            record["custom_fields_values"] = values or None
    return no_content()
