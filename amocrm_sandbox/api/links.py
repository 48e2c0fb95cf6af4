"""Lead↔contact links (§5.4): ``is_main`` on write, ``main_contact`` on read; unlink answers 204."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox.entities import (
    contact_leads,
    known_entity,
    lead_contacts,
    link_contact,
    unlink_contact,
)
from amocrm_sandbox.hal import collection
from amocrm_sandbox.jsonio import no_content
from amocrm_sandbox.query import dig, int_list, php_args
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.state import Data
from amocrm_sandbox.validation import (
    NOT_BLANK,
    NOT_SUPPORTED,
    ItemErrors,
    batch_body,
    is_int,
    validate_batch,
)

bp = Blueprint("sandbox_links", __name__)

# entity → the one linkable type the sandbox models on the other side
OTHER = {"leads": "contacts", "contacts": "leads"}


def _render(entity: str, row: dict) -> dict[str, Any]:
    if entity == "leads":
        return {"entity_id": row["lead_id"], "entity_type": "leads", "to_entity_id": row["contact_id"],
                "to_entity_type": "contacts", "metadata": {"main_contact": row["main"]}}
    return {"entity_id": row["contact_id"], "entity_type": "contacts", "to_entity_id": row["lead_id"],
            "to_entity_type": "leads", "metadata": None}


def _check(data: Data, entity: str, item: dict, errs: ItemErrors, entity_id: int | None) -> tuple[int, int, bool]:
    errs.unexpected(item, ("to_entity_id", "to_entity_type", "metadata") + (() if entity_id else ("entity_id",)))
    if entity_id is None:
        entity_id = errs.integer(item, "entity_id", required=True)
    if entity_id is not None and entity_id not in data[entity]:
        errs.add(NOT_SUPPORTED, "entity_id")
    to_type, to_id = item.get("to_entity_type"), item.get("to_entity_id")
    if to_type != OTHER[entity]:
        errs.add(NOT_SUPPORTED if to_type else NOT_BLANK, "to_entity_type")
    elif not is_int(to_id) or to_id not in data[to_type]:
        errs.add(NOT_SUPPORTED if to_id is not None else NOT_BLANK, "to_entity_id")
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    is_main = bool(metadata.get("is_main"))
    return (entity_id, to_id, is_main) if entity == "leads" else (to_id, entity_id, is_main)


def _link(entity: str, entity_id: int | None) -> Response:
    items = batch_body()
    with rt().store.write() as data:
        planned = validate_batch(items, lambda item, errs: _check(data, entity, item, errs, entity_id))
        rows = [link_contact(data, lead_id, contact_id, is_main) for lead_id, contact_id, is_main in planned]
        path = f"/api/v4/{entity}/{entity_id}/links" if entity_id else f"/api/v4/{entity}/link"
        return collection("links", [_render(entity, r) for r in rows], path=path, total=True)


def _unlink(entity: str, entity_id: int | None) -> Response:
    items = batch_body()
    with rt().store.write() as data:
        planned = validate_batch(items, lambda item, errs: _check(data, entity, item, errs, entity_id))
        for lead_id, contact_id, _ in planned:
            unlink_contact(data, lead_id, contact_id)
    return no_content()


@bp.post("/api/v4/<entity>/link")
def link_many(entity: str) -> Response:
    return _link(known_entity(entity, OTHER), None)


@bp.post("/api/v4/<entity>/<int:entity_id>/link")
def link_one(entity: str, entity_id: int) -> Response:
    return _link(known_entity(entity, OTHER), entity_id)


@bp.post("/api/v4/<entity>/unlink")
def unlink_many(entity: str) -> Response:
    return _unlink(known_entity(entity, OTHER), None)


@bp.post("/api/v4/<entity>/<int:entity_id>/unlink")
def unlink_one(entity: str, entity_id: int) -> Response:
    return _unlink(known_entity(entity, OTHER), entity_id)


@bp.get("/api/v4/<entity>/<int:entity_id>/links")
def list_links(entity: str, entity_id: int) -> Response:
    entity, args = known_entity(entity, OTHER), php_args()
    to_type = dig(args, "filter", "to_entity_type")
    to_ids = int_list(dig(args, "filter", "to_entity_id"), "filter[to_entity_id]")
    with rt().store.read() as data:
        rows = lead_contacts(data, entity_id) if entity == "leads" else contact_leads(data, entity_id)
        out = [_render(entity, r) for r in rows]
        out = [r for r in out if (to_type is None or r["to_entity_type"] == to_type)
               and (to_ids is None or r["to_entity_id"] in to_ids)]
        return collection("links", out, total=True) if out else no_content()
