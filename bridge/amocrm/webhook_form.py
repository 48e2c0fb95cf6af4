"""amoCRM's outgoing webhooks: form-encoded, bracket-nested keys → the changes salonbridge reacts to.

Only what people do in amoCRM matters here: a lead moved to another stage, a task completed. Each
change gets a dedupe key, because amoCRM retries deliveries and may send one change twice.

The body comes from the internet, so reading it is bounded and refuses instead of repairing: at most
``MAX_FIELDS`` fields, keys at most ``MAX_DEPTH`` brackets deep, no key twice, no key that is both a value
and a group, no NUL; the ids we act on must be integers. Anything else is a ``FormError`` that the hook
answers with 400 (not a form) or 422 (a form with values we cannot use), before anything is stored.
The parse is a loop over the fields and an explicit stack, never recursion.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 10_000  # a delivery of 50 leads with a dozen custom fields each is ~4,000
MAX_DEPTH = 8  # leads[status][0][custom_fields][0][values][0][value] is 7
MAX_KEY_CHARS = 256
MAX_STAMP_CHARS = 32  # part of the dedupe key (128 characters in the store)
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART = re.compile(r"\[([^\[\]]*)\]")
_ID = re.compile(r"[1-9][0-9]{0,17}")
_USER = re.compile(r"[0-9]{0,18}")
_STAMP = re.compile(r"[0-9A-Za-z :.+-]*")


class FormError(ValueError):
    """Why a body is not a usable amoCRM webhook; ``status`` is the HTTP answer (400 or 422)."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def parse_form(body: str) -> dict[str, Any]:
    """``leads[status][0][id]=1`` → ``{"leads": {"status": [{"id": "1"}]}}`` (all-digit keys become lists).

    Values stay strings, as amoCRM sends them; a bad shape raises FormError (400)."""
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise FormError(f"more than {MAX_FIELDS} fields") from None
    root: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise FormError(f"field {_shown(key)} appears more than once")
        seen.add(key)
        if "\x00" in key or "\x00" in value:
            raise FormError(f"field {_shown(key)} contains a NUL character")
        _insert(root, _path(key), value, key)
    return _listify(root)


def _shown(key: str) -> str:
    return repr(key if len(key) <= 80 else key[:80] + "…")


def _path(key: str) -> list[str]:
    if key.count("[") >= MAX_DEPTH:
        raise FormError(f"field {_shown(key)} is nested deeper than {MAX_DEPTH} levels")
    if len(key) > MAX_KEY_CHARS:
        raise FormError(f"field name longer than {MAX_KEY_CHARS} characters: {_shown(key)}")
    match = _KEY.fullmatch(key)
    if match is None:
        raise FormError(f"field name {_shown(key)} is not of the form name[a][b]…")
    parts = [match.group(1), *_PART.findall(match.group(2))]
    if "" in parts:
        raise FormError(f"field {_shown(key)} has empty brackets")
    return parts


def _insert(root: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node = root
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise FormError(f"field {_shown(key)} nests inside a field that has a value")
        node = child
    if parts[-1] in node:  # only a group can be there: the same key twice was refused above
        raise FormError(f"field {_shown(key)} is both a value and a group of fields")
    node[parts[-1]] = value


def _listify(root: dict[str, Any]) -> dict[str, Any]:
    """Turn every dict whose keys are all digits into a list (by number), children first, with a stack."""
    stack: list[tuple[dict[str, Any], bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in node.values() if isinstance(child, dict))
            continue
        for name, child in node.items():
            if isinstance(child, dict) and child and all(k.isdigit() for k in child):
                node[name] = [child[k] for k in sorted(child, key=int)]
    return root


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
    """The stage moves and task completions in one delivery (everything else is ignored).

    A value we act on that is not what amoCRM sends (an id that is not a positive integer, a stamp that
    is not a time) raises FormError(422) naming the field."""
    out: list[Change] = []
    leads = form.get("leads") if isinstance(form.get("leads"), dict) else {}
    for path, item in _entries(leads.get("status"), "leads[status]"):
        out.append(LeadMoved(_int(item, "id", path), _int(item, "pipeline_id", path, required=False),
                             _int(item, "status_id", path), _user(item, path),
                             _stamp(item, path, "last_modified", "updated_at")))
    tasks = form.get("task") or form.get("tasks") or {}
    name = "task" if "task" in form else "tasks"
    for path, item in _entries(tasks.get("update") if isinstance(tasks, dict) else None, f"{name}[update]"):
        task_id = _int(item, "id", path)
        if str(item.get("status")) == "1" and str(item.get("action_close", "1")) == "1":
            result = item.get("result") if isinstance(item.get("result"), dict) else {}
            text = result.get("text")
            out.append(TaskCompleted(task_id, text if isinstance(text, str) else "", _user(item, path),
                                     _stamp(item, path, "updated_at", "last_modified")))
    return out


def _entries(value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, entry) pairs, tolerating the extra ``"0"`` nesting level some documented examples show."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    entries = []
    for i, entry in enumerate(value):
        if isinstance(entry, list):
            entries.extend((f"{path}[{i}][{j}]", e) for j, e in enumerate(entry) if isinstance(e, dict))
        elif isinstance(entry, dict):
            entries.append((f"{path}[{i}]", entry))
        else:
            raise FormError(f"{path}[{i}] must be a group of fields, not a value", 422)
    return entries


def _int(item: dict[str, Any], key: str, path: str, *, required: bool = True) -> int:
    raw = item.get(key)
    if raw is None or raw == "":
        if required:
            raise FormError(f"{path}[{key}] is missing", 422)
        return 0
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        raise FormError(f"{path}[{key}] must be a positive integer, got {_shown(str(raw))}", 422)
    return int(raw)


def _user(item: dict[str, Any], path: str) -> str:
    raw = item.get("modified_user_id", "")
    if not isinstance(raw, str) or not _USER.fullmatch(raw):
        raise FormError(f"{path}[modified_user_id] must be a user id, got {_shown(str(raw))}", 422)
    return raw


def _stamp(item: dict[str, Any], path: str, *keys: str) -> str:
    """The change's time as amoCRM wrote it (Unix seconds or "YYYY-MM-DD HH:MM:SS"); part of the dedupe key."""
    key = next((k for k in keys if item.get(k)), keys[0])
    raw = item.get(key) or ""
    if not isinstance(raw, str) or len(raw) > MAX_STAMP_CHARS or not _STAMP.fullmatch(raw):
        raise FormError(f"{path}[{key}] must be a time, got {_shown(str(raw))}", 422)
    return raw


def dedupe_key(change: Change) -> str:
    ident = change.lead_id if isinstance(change, LeadMoved) else change.task_id
    target = change.status_id if isinstance(change, LeadMoved) else "done"
    return f"amocrm:{change.kind}:{ident}:{target}:{change.stamp}"


def to_payload(tenant: str, change: Change) -> dict[str, Any]:
    return {"tenant": tenant, "kind": change.kind, **asdict(change)}
