"""Webhook subscriptions (§10.2): an object body, upsert by destination, 201 on create, ≤ 100.

Subscriptions are recorded only; the sandbox does not deliver webhooks.
"""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, Response

from amocrm_sandbox.hal import collection
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.problems import ApiError
from amocrm_sandbox.query import dig, php_args
from amocrm_sandbox.runtime import acting_user, rt
from amocrm_sandbox.state import Data, next_id
from amocrm_sandbox.validation import NOT_BLANK, NOT_SUPPORTED, ItemErrors, object_body, validate_batch

bp = Blueprint("sandbox_webhooks", __name__)

MAX_WEBHOOKS = 100
SETTINGS = frozenset({  # §10.2, plus add_unsorted seen on real accounts
    "responsible_lead", "responsible_contact", "responsible_company", "responsible_customer",
    "responsible_task", "restore_lead", "restore_contact", "restore_company", "add_lead", "add_contact",
    "add_company", "add_customer", "add_talk", "add_task", "update_lead", "update_contact",
    "update_company", "update_customer", "update_talk", "update_task", "delete_lead", "delete_contact",
    "delete_company", "delete_customer", "delete_task", "status_lead", "note_lead", "note_contact",
    "note_company", "note_customer", "add_chat_template_review", "add_unsorted",
})


def _render(data: Data, hook: dict) -> dict:
    return {k: hook[k] for k in ("id", "destination", "created_at", "updated_at")} | {
        "account_id": data["account"]["id"], "created_by": hook["created_by"], "sort": hook["sort"],
        "disabled": hook["disabled"], "settings": hook["settings"]}


def _check(item: dict, errs: ItemErrors) -> None:
    errs.unexpected(item, ("destination", "settings", "sort"))
    destination = errs.string(item, "destination", required=True)
    if destination and urlparse(destination).scheme not in ("http", "https"):
        errs.add(NOT_SUPPORTED, "destination", "This value is not a valid URL.")
    settings = item.get("settings")
    if not isinstance(settings, list) or not settings:
        errs.add(NOT_BLANK, "settings")
    else:
        for i, name in enumerate(settings):
            if name not in SETTINGS:
                errs.add(NOT_SUPPORTED, f"settings.{i}")
    errs.integer(item, "sort")


@bp.get("/api/v4/webhooks")
def list_webhooks() -> Response:
    destination = dig(php_args(), "filter", "destination")
    with rt().store.read() as data:
        hooks = [_render(data, h) for h in sorted(data["webhooks"].values(), key=lambda h: (h["sort"], h["id"]))
                 if destination is None or h["destination"] == destination]
        return collection("webhooks", hooks, total=True) if hooks else no_content()


@bp.post("/api/v4/webhooks")
def subscribe() -> Response:
    item, runtime = object_body(), rt()
    validate_batch([item], _check)
    with runtime.store.write() as data:
        hook = next((h for h in data["webhooks"].values() if h["destination"] == item["destination"]), None)
        if hook is None:
            if len(data["webhooks"]) >= MAX_WEBHOOKS:
                raise ApiError(400, f"An account holds at most {MAX_WEBHOOKS} webhooks")
            hook = {"id": next_id(data, "webhooks"), "destination": item["destination"], "created_at": runtime.ts(),
                    "created_by": acting_user(), "disabled": False}
            data["webhooks"][hook["id"]] = hook
        hook.update(settings=list(dict.fromkeys(item["settings"])), sort=item.get("sort", hook.get("sort", 1)),
                    updated_at=runtime.ts())
        return json_response(_render(data, hook), 201)


@bp.delete("/api/v4/webhooks")
def unsubscribe() -> Response:
    item = object_body()
    with rt().store.write() as data:
        hook = next((h for h in data["webhooks"].values() if h["destination"] == item.get("destination")), None)
        if hook is None:
            raise ApiError(404, "Webhook not found")
        del data["webhooks"][hook["id"]]
    return no_content()
