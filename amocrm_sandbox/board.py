"""``GET /``: a read-only board of the account — pipelines as columns of lead cards, then the tasks —
so a person watching a test or a demo sees what an amoCRM user would see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template

from amocrm_sandbox.entities import lead_contacts
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.state import Data

bp = Blueprint("sandbox_board", __name__)


@dataclass
class Card:
    id: int
    name: str
    price: int
    contact: str
    responsible: str
    fields: list[tuple[str, str]]
    tags: list[str]


@dataclass
class Column:
    name: str
    color: str
    cards: list[Card] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(card.price for card in self.cards)


@dataclass
class Section:
    id: int
    name: str
    is_main: bool
    columns: list[Column]


@dataclass
class TaskRow:
    id: int
    text: str
    deadline: str
    entity: str
    responsible: str
    completed: bool
    result: str
    overdue: bool


def _values_text(data: Data, stored: list[dict] | None) -> list[tuple[str, str]]:
    out = []
    for row in stored or []:
        meta = data["custom_fields"].get(row["field_id"])
        if meta is None:
            continue
        shown = []
        for value in row["values"]:
            raw = value.get("value") if isinstance(value, dict) else value
            if meta["type"] in ("date", "date_time", "birthday") and isinstance(raw, int):
                raw = datetime.fromtimestamp(raw, ZoneInfo(data["account"]["timezone"])).strftime(
                    "%d.%m.%Y %H:%M" if meta["type"] == "date_time" else "%d.%m.%Y")
            shown.append(str(raw))
        out.append((meta["name"], ", ".join(shown)))
    return out


def _contact_label(data: Data, contact_id: int) -> str:
    contact = data["contacts"].get(contact_id)
    if contact is None:
        return ""
    phones = [v["value"] for row in contact["custom_fields_values"] or []
              if (data["custom_fields"].get(row["field_id"]) or {}).get("code") == "PHONE" for v in row["values"]]
    return " · ".join([contact["name"] or f"#{contact_id}", *phones[:1]])


def _user(data: Data, user_id: int | None) -> str:
    user = data["users"].get(user_id) if user_id else None
    return user["name"] if user else ("robot" if user_id == 0 else "—")


def _sections(data: Data) -> list[Section]:
    sections = []
    for pipeline in sorted(data["pipelines"].values(), key=lambda p: (p["sort"], p["id"])):
        columns = {s["id"]: Column(s["name"], s["color"]) for s in pipeline["statuses"]}
        for lead in sorted(data["leads"].values(), key=lambda x: x["id"]):
            if lead["pipeline_id"] != pipeline["id"] or lead["is_deleted"] or lead["status_id"] not in columns:
                continue
            main = next((r["contact_id"] for r in lead_contacts(data, lead["id"]) if r["main"]), None)
            columns[lead["status_id"]].cards.append(Card(
                lead["id"], lead["name"], lead["price"], _contact_label(data, main) if main else "",
                _user(data, lead["responsible_user_id"]), _values_text(data, lead["custom_fields_values"]),
                [data["tags"][t]["name"] for t in lead["tag_ids"] if t in data["tags"]]))
        sections.append(Section(pipeline["id"], pipeline["name"], pipeline["is_main"], list(columns.values())))
    return sections


def _entity_label(data: Data, task: dict) -> str:
    if not task["entity_type"]:
        return "—"
    record = data[task["entity_type"]].get(task["entity_id"]) or {}
    kind = "Сделка" if task["entity_type"] == "leads" else "Контакт"
    return f"{kind} #{task['entity_id']} {record.get('name', '')}".strip()


def _tasks(data: Data, now: int) -> list[TaskRow]:
    zone = ZoneInfo(data["account"]["timezone"])
    rows = []
    for task in sorted(data["tasks"].values(), key=lambda t: (t["is_completed"], t["complete_till"], t["id"])):
        rows.append(TaskRow(
            task["id"], task["text"], datetime.fromtimestamp(task["complete_till"], zone).strftime("%d.%m.%Y %H:%M"),
            _entity_label(data, task), _user(data, task["responsible_user_id"]), task["is_completed"],
            (task["result"] or {}).get("text", "") if isinstance(task["result"], dict) else "",
            not task["is_completed"] and task["complete_till"] < now))
    return rows


@bp.get("/")
def board() -> str:
    runtime = rt()
    with runtime.store.read() as data:
        return render_template(
            "board.html", account=data["account"], sections=_sections(data), tasks=_tasks(data, runtime.ts()),
            runs=list(reversed(data["salesbot_runs"][-20:])), timezone=data["account"]["timezone"])
