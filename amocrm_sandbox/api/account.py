"""``GET /api/v4/account`` and the users list: what a client reads to learn the account."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response

from amocrm_sandbox.hal import link, page_of
from amocrm_sandbox.jsonio import json_response, no_content
from amocrm_sandbox.query import paging, with_set
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.seed import TASK_TYPES

bp = Blueprint("sandbox_account", __name__)

BASE_KEYS = ("id", "name", "subdomain", "current_user_id", "country", "customers_mode", "is_unsorted_on",
             "is_loss_reason_enabled", "is_helpbot_enabled", "is_technical_account", "contact_name_display_order")
WITH_KEYS = {"amojo_id": ("amojo_id", "uuid"), "version": ("version",)}
USERS_GROUPS = [{"id": 0, "name": "Отдел продаж", "uuid": None}]


def _datetime_settings(timezone: str) -> dict:
    offset = datetime.now(ZoneInfo(timezone)).strftime("%z")
    return {"date_pattern": "d.m.Y H:i", "short_date_pattern": "d.m.Y", "short_time_pattern": "H:i",
            "date_formant": "d.m.Y", "time_format": "H:i:s", "timezone": timezone,
            "timezone_offset": f"{offset[:3]}:{offset[3:]}"}


@bp.get("/api/v4/account")
def account() -> Response:
    """Base fields always; the rest only with the documented ``with`` values (unknown ones ignored)."""
    wanted = with_set()
    with rt().store.read() as data:
        acc = data["account"]
        body = {key: acc[key] for key in BASE_KEYS}
        for name, keys in WITH_KEYS.items():
            if name in wanted:
                body.update({key: acc[key] for key in keys})
        if "drive_url" in wanted:
            body["drive_url"] = "https://drive-b.amocrm.ru"
        if "is_api_filter_enabled" in wanted:
            body["is_api_filter_enabled"] = True
        body["_links"] = link("/api/v4/account")
        embedded: dict = {}
        if "amojo_rights" in wanted:
            embedded["amojo_rights"] = {"can_direct": True, "can_create_groups": True}
        if "users_groups" in wanted:
            embedded["users_groups"] = USERS_GROUPS
        if "task_types" in wanted:
            embedded["task_types"] = TASK_TYPES
        if "datetime_settings" in wanted:
            embedded["datetime_settings"] = _datetime_settings(acc["timezone"])
        if embedded:
            body["_embedded"] = embedded
    return json_response(body)


def _render_user(user: dict, wanted: set[str]) -> dict:
    body = {k: user[k] for k in ("id", "name", "email", "lang")}
    body["rights"] = user["rights"]
    if "uuid" in wanted:
        body["uuid"] = None
    if "amojo_id" in wanted:
        body["amojo_id"] = None
    body["_links"] = link(f"/api/v4/users/{user['id']}")
    embedded = {}
    if "role" in wanted:
        embedded["roles"] = []
    if "group" in wanted:
        embedded["groups"] = [{"id": 0, "name": "Отдел продаж"}]
    if embedded:
        body["_embedded"] = embedded
    return body


@bp.get("/api/v4/users")
def users() -> Response:
    page, wanted = paging(), with_set()
    with rt().store.read() as data:
        rows = sorted(data["users"].values(), key=lambda u: u["id"])
        return page_of("users", rows, page, lambda u: _render_user(u, wanted), counts=True)


@bp.get("/api/v4/users/<int:user_id>")
def user(user_id: int) -> Response:
    with rt().store.read() as data:
        found = data["users"].get(user_id)
        return json_response(_render_user(found, with_set())) if found else no_content()
