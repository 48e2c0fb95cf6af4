"""A fresh account as amoCRM hands it over: one admin and one manager, the default pipeline with its
system stages, and the predefined contact fields (PHONE, EMAIL, POSITION) with their enum codes."""

from __future__ import annotations

import secrets

from amocrm_sandbox.options import SandboxOptions
from amocrm_sandbox.state import SCHEMA_VERSION, TABLES, Data, next_id

ACCOUNT_ID = 31415926
ADMIN_ID = 504141
MANAGER_ID = 504142
WON, LOST = 142, 143

# First ids per kind (the first issued is start + 1); distinct ranges make mix-ups visible in tests.
SEQUENCES = {
    "pipelines": 7000000, "statuses": 58000000, "custom_fields": 900000, "enums": 1000000,
    "tags": 500000, "contacts": 20000000, "leads": 10000000, "tasks": 30000000, "notes": 40000000,
    "webhooks": 800000, "salesbot_runs": 0,
}

PHONE_ENUMS = ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")
EMAIL_ENUMS = ("WORK", "PRIV", "OTHER")
TASK_TYPES = [
    {"id": 1, "name": "Связаться", "color": None, "icon_id": None, "code": "FOLLOW_UP"},
    {"id": 2, "name": "Встреча", "color": None, "icon_id": None, "code": "MEETING"},
]
DEFAULT_STAGES = [
    ("Первичный контакт", "#99ccff"), ("Переговоры", "#ffff99"),
    ("Принимают решение", "#ffcc66"), ("Согласование договора", "#ffcccc"),
]


def seed_account(options: SandboxOptions, now: int) -> Data:
    data: Data = {
        "version": SCHEMA_VERSION,
        "secret": secrets.token_hex(32),
        "seq": dict(SEQUENCES),
        "account": {
            "id": ACCOUNT_ID, "name": "Sandbox salon", "subdomain": options.subdomain,
            "current_user_id": ADMIN_ID, "country": "RU", "customers_mode": "disabled",
            "is_unsorted_on": True, "is_loss_reason_enabled": True, "is_helpbot_enabled": False,
            "is_technical_account": False, "contact_name_display_order": 1,
            "amojo_id": "3f1e9a52-7c2b-4d8e-9a0f-5b6c7d8e9f01", "uuid": "8a2b3c4d-5e6f-4a0b-9c1d-2e3f4a5b6c7d",
            "version": 16, "timezone": options.timezone,
        },
        "links": [],
        "salesbot_runs": [],
        "oauth": {"codes": {}, "access": {}, "refresh": {}},
        **{table: {} for table in TABLES},
    }
    data["users"] = {
        ADMIN_ID: _user(ADMIN_ID, "Администратор", "admin@sandbox.example", admin=True),
        MANAGER_ID: _user(MANAGER_ID, "Менеджер", "manager@sandbox.example", admin=False),
    }
    pipeline = new_pipeline(data, name="Воронка", sort=1, is_main=True, is_unsorted_on=True, now=now)
    for sort, (name, color) in enumerate(DEFAULT_STAGES, start=2):
        pipeline["statuses"].append(new_status(data, pipeline["id"], name, sort * 10, color))
    pipeline["statuses"].sort(key=lambda s: s["sort"])
    data["pipelines"][pipeline["id"]] = pipeline
    for field in _contact_fields(data, now):
        data["custom_fields"][field["id"]] = field
    return data


def _user(user_id: int, name: str, email: str, *, admin: bool) -> dict:
    rights = {"view": "A", "edit": "A", "add": "A", "delete": "A" if admin else "D", "export": "A" if admin else "D"}
    return {
        "id": user_id, "name": name, "email": email, "lang": "ru",
        "rights": {
            "leads": dict(rights), "contacts": dict(rights), "companies": dict(rights),
            "tasks": {"edit": "A", "delete": "A" if admin else "D"},
            "mail_access": True, "catalog_access": True, "files_access": True, "status_rights": [],
            "is_admin": admin, "is_free": False, "is_active": True, "group_id": None, "role_id": None,
        },
    }


def new_pipeline(data: Data, *, name: str, sort: int, is_main: bool, is_unsorted_on: bool, now: int) -> dict:
    """A pipeline with its system stages: Unsorted (when on, type 1), 142 won and 143 lost (§4.7)."""
    pid = next_id(data, "pipelines")
    statuses = [unsorted_status(data, pid)] if is_unsorted_on else []
    statuses += [system_status(pid, WON, "Успешно реализовано"), system_status(pid, LOST, "Закрыто и не реализовано")]
    return {"id": pid, "name": name, "sort": sort, "is_main": is_main, "is_unsorted_on": is_unsorted_on,
            "is_archive": False, "created_at": now, "statuses": statuses}


def unsorted_status(data: Data, pipeline_id: int) -> dict:
    status = new_status(data, pipeline_id, "Неразобранное", 10, "#c1c1c1")
    status.update(type=1, is_editable=False)
    return status


def system_status(pipeline_id: int, status_id: int, name: str) -> dict:
    won = status_id == WON
    return {"id": status_id, "name": name, "sort": 10000 if won else 11000, "is_editable": False,
            "pipeline_id": pipeline_id, "color": "#CCFF66" if won else "#D5D8DB", "type": 0}


def new_status(data: Data, pipeline_id: int, name: str, sort: int, color: str) -> dict:
    return {"id": next_id(data, "statuses"), "name": name, "sort": sort, "is_editable": True,
            "pipeline_id": pipeline_id, "color": color, "type": 0}


def new_enums(data: Data, values: list[dict]) -> list[dict]:
    return [{"id": next_id(data, "enums"), "value": v["value"], "sort": v.get("sort", (i + 1) * 2),
             "code": v.get("code")} for i, v in enumerate(values)]


def _contact_fields(data: Data, now: int) -> list[dict]:
    def predefined(name: str, code: str, sort: int, ftype: str, enums: tuple[str, ...] = ()) -> dict:
        fid = next_id(data, "custom_fields")
        return {
            "id": fid, "name": name, "type": ftype, "code": code, "sort": sort, "entity_type": "contacts",
            "is_api_only": False, "is_predefined": True, "is_deletable": False, "group_id": None,
            "required_statuses": [], "remind": None, "currency": None, "hidden_statuses": [],
            "enums": new_enums(data, [{"value": v} for v in enums]) if enums else None, "created_at": now,
        }

    return [
        predefined("Должность", "POSITION", 2, "text"),
        predefined("Телефон", "PHONE", 4, "multitext", PHONE_ENUMS),
        predefined("Email", "EMAIL", 6, "multitext", EMAIL_ENUMS),
    ]
