"""Salesbot launches (§11): v2 ``/api/v2/salesbot/run`` (numeric entity_type) and v4 ``/api/v4/bots/run``
(string entity_type). Both answer 202; the sandbox records each launch for tests and the board."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from amocrm_sandbox.jsonio import json_response
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import (
    NOT_SUPPORTED,
    TOO_LOW,
    ItemErrors,
    batch_body,
    object_body,
    validate_batch,
)

bp = Blueprint("sandbox_salesbot", __name__)

MAX_RUNS = 100
V2_TYPES = {1: "contacts", 2: "leads"}


def _check(item: dict, errs: ItemErrors, types: dict[Any, str]) -> tuple[int, int, str] | None:
    errs.unexpected(item, ("bot_id", "entity_id", "entity_type"))
    bot_id = errs.integer(item, "bot_id", required=True)
    if bot_id is not None and bot_id < 1:
        errs.add(TOO_LOW, "bot_id", "This value should be greater than 0.")
    entity_id = errs.integer(item, "entity_id", required=True)
    raw_type = item.get("entity_type")
    entity_type = None if isinstance(raw_type, bool) else types.get(raw_type)
    if entity_type is None:
        errs.add(NOT_SUPPORTED, "entity_type")
    if errs:
        return None
    return bot_id, entity_id, entity_type  # type: ignore[return-value]


def _record(data: Data, runs: list[tuple[int, int, str]], api: str, now: int) -> bool:
    """Store the launches; ``success`` is false when a target entity does not exist (the bot can't start)."""
    ok = True
    for bot_id, entity_id, entity_type in runs:
        exists = entity_id in data[entity_type]
        ok = ok and exists
        data["salesbot_runs"].append({"id": next_id(data, "salesbot_runs"), "bot_id": bot_id,
                                      "entity_id": entity_id, "entity_type": entity_type, "api": api,
                                      "started": exists, "created_at": now})
    return ok


@bp.post("/api/v2/salesbot/run")
def run_v2() -> Response:
    items, runtime = batch_body(limit=MAX_RUNS, over_limit_status=400), rt()
    runs = validate_batch(items, lambda item, errs: _check(item, errs, V2_TYPES))
    with runtime.store.write() as data:
        success = _record(data, runs, "v2", runtime.ts())
    body = {"_links": {"self": {"href": "/api/v2/salesbot/run", "method": "post"}}, "success": success}
    return json_response(body, 202)


@bp.post("/api/v4/bots/run")
def run_v4() -> Response:
    items, runtime = batch_body(limit=MAX_RUNS, over_limit_status=400), rt()
    runs = validate_batch(items, lambda item, errs: _check(item, errs, {v: v for v in V2_TYPES.values()}))
    with runtime.store.write() as data:
        _record(data, runs, "v4", runtime.ts())
    return Response(status=202, mimetype="text/html")


@bp.post("/api/v4/bots/<int:bot_id>/run")
def run_one_v4(bot_id: int) -> Response:
    item, runtime = object_body(), rt()
    [run] = validate_batch([{"bot_id": bot_id, **item}],
                           lambda obj, errs: _check(obj, errs, {v: v for v in V2_TYPES.values()}))
    with runtime.store.write() as data:
        _record(data, [run], "v4", runtime.ts())
    return Response(status=202, mimetype="text/html")
