"""amoCRM's outgoing webhooks: form-encoded, bracket-nested keys → the changes salonbridge reacts to.

Only what people do in amoCRM matters here: a lead moved to another stage, a task completed. Each
change gets a dedupe key, because amoCRM retries deliveries and may send one change twice.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def parse_form(body: str) -> dict[str, Any]:
    """``leads[status][0][id]=1`` → ``{"leads": {"status": [{"id": "1"}]}}`` (all-digit keys become lists)."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        path = [head, *_PART.findall(key[len(head):])]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


@dataclass(frozen=True)
class LeadMoved:
    lead_id: int
    pipeline_id: int
    status_id: int
    modified_user_id: str
    stamp: str

    kind = "lead_moved"


@dataclass(frozen=True)
class TaskCompleted:
    task_id: int
    result: str
    modified_user_id: str
    stamp: str

    kind = "task_completed"


Change = LeadMoved | TaskCompleted


def changes(form: dict[str, Any]) -> list[Change]:
    """The stage moves and task completions in one delivery (everything else is ignored)."""
    out: list[Change] = []
    leads = form.get("leads") if isinstance(form.get("leads"), dict) else {}
    for item in _entries(leads.get("status")):
        if item.get("id") and item.get("status_id"):
            out.append(LeadMoved(int(item["id"]), int(item.get("pipeline_id") or 0), int(item["status_id"]),
                                 str(item.get("modified_user_id", "")),
                                 str(item.get("last_modified") or item.get("updated_at") or "")))
    tasks = form.get("task") or form.get("tasks") or {}
    for item in _entries(tasks.get("update") if isinstance(tasks, dict) else None):
        if item.get("id") and str(item.get("status")) == "1" and str(item.get("action_close", "1")) == "1":
            result = item.get("result") if isinstance(item.get("result"), dict) else {}
            out.append(TaskCompleted(int(item["id"]), str(result.get("text") or ""),
                                     str(item.get("modified_user_id", "")),
                                     str(item.get("updated_at") or item.get("last_modified") or "")))
    return out


def _entries(value: Any) -> list[dict[str, Any]]:
    """A list of entries, tolerating the extra ``"0"`` nesting level some documented examples show."""
    if isinstance(value, dict):
        value = [value]
    entries = []
    for entry in value or []:
        if isinstance(entry, list):
            entries.extend(e for e in entry if isinstance(e, dict))
        elif isinstance(entry, dict):
            entries.append(entry)
    return entries


def dedupe_key(change: Change) -> str:
    ident = change.lead_id if isinstance(change, LeadMoved) else change.task_id
    target = change.status_id if isinstance(change, LeadMoved) else "done"
    return f"amocrm:{change.kind}:{ident}:{target}:{change.stamp}"


def to_payload(tenant: str, change: Change) -> dict[str, Any]:
    return {"tenant": tenant, "kind": change.kind, **asdict(change)}
