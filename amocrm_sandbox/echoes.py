"""Webhook echoes: what amoCRM POSTs to a subscribed destination when leads, contacts and tasks change.

Every change made through the API — including the integration's own writes, as on a real account — and
every change "a person" makes through ``POST /_sandbox/person/…`` is noted while it is applied (``note``),
and after the request succeeds the changes are matched against the registered webhooks' ``settings`` and
queued for delivery. Nothing is noted for delivery unless a webhook is registered.

The body is amoCRM's (spec §10.3): ``application/x-www-form-urlencoded``, PHP bracket keys, every value a
string, legacy field names (``date_create``, ``last_modified``, ``created_user_id``, ``modified_user_id``,
``element_type`` 1 = contact / 2 = lead, task ``status`` "0"/"1", ``action_close``, ``complete_till`` as
"YYYY-MM-DD HH:MM:SS" in the account's time zone), the task entity under the singular ``task``, and the
``account[…]`` trailer. One delivery per request and webhook, carrying all of that request's changes.

Telling one's own changes from a person's: ``modified_user_id`` is the entity's ``updated_by`` after the
change — the token's user for an API write (on amoCRM the user who installed the integration), or what the
write itself sent as ``updated_by`` (0 = "robot", spec §10.4: "[INFER — verify]"), or the person's user id
for ``/_sandbox/person`` changes (the manager, 504142, unless ``user_id`` says otherwise).

Delivery: one thread per account, in order, with amoCRM's 2 s timeout; an answer outside 200–299 or a
timeout is a failed delivery, recorded (``GET /_sandbox/webhooks``) but not retried (amoCRM retries after
5 and 15 minutes, §10.5 — longer than any test). More than 100 failures within 2 hours, the latest one
included, disable the webhook (``disabled: true``), as amoCRM does.
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import g

from amocrm_sandbox.cf_values import read_values
from amocrm_sandbox.state import Data, Store

# webhook setting → (form entity key, action)
SETTINGS = {
    "add_lead": ("leads", "add"), "update_lead": ("leads", "update"), "status_lead": ("leads", "status"),
    "responsible_lead": ("leads", "responsible"), "add_contact": ("contacts", "add"),
    "update_contact": ("contacts", "update"), "responsible_contact": ("contacts", "responsible"),
    "add_task": ("task", "add"), "update_task": ("task", "update"), "responsible_task": ("task", "responsible"),
}
ELEMENT_TYPES = {"contacts": "1", "leads": "2"}
FAILURES_TO_DISABLE, FAILURE_WINDOW_S = 100, 7200.0


@dataclass(frozen=True)
class Change:
    """One entity change as a webhook entry: ``entity`` is the form key, ``actions`` what it counts as."""

    entity: str  # leads | contacts | task
    actions: tuple[str, ...]  # e.g. ("update", "status")
    fields: dict[str, Any]


def note(data: Data, kind: str, before: dict | None, after: dict) -> None:
    """Record a change of a lead/contact/task applied in this request (a no-op without a webhook)."""
    if not data["webhooks"]:
        return
    build = {"leads": _lead, "contacts": _contact, "tasks": _task}[kind]
    g.setdefault("echoes", []).append(build(data, before, after))


def _stamp(data: Data, ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, ZoneInfo(data["account"]["timezone"])).strftime("%Y-%m-%d %H:%M:%S")


def _custom_fields(data: Data, stored: list[dict] | None) -> list[dict]:
    out = []
    for row in read_values(data, stored) or []:
        values: list[Any] = []
        for value in row["values"]:
            if row["field_type"] in ("date", "date_time", "birthday"):
                values.append(str(value.get("value")))  # date values have no [value] key (§10.3)
                continue
            entry = {"value": str(value.get("value"))}
            if value.get("enum_id") is not None:
                entry["enum"] = str(value["enum_id"])
            values.append(entry)
        cf = {"id": str(row["field_id"]), "name": row["field_name"]}
        if row.get("field_code"):
            cf["code"] = row["field_code"]
        out.append({**cf, "values": values})
    return out


def _common(data: Data, entity: dict) -> dict[str, Any]:
    return {"id": entity["id"], "responsible_user_id": entity["responsible_user_id"],
            "date_create": entity["created_at"], "last_modified": entity["updated_at"],
            "created_user_id": entity["created_by"], "modified_user_id": entity["updated_by"],
            "account_id": data["account"]["id"]}


def _lead(data: Data, before: dict | None, lead: dict) -> Change:
    fields = {**_common(data, lead), "name": lead["name"], "status_id": lead["status_id"], "price": lead["price"],
              "pipeline_id": lead["pipeline_id"]}
    actions = ["add"] if before is None else ["update"]
    if before is not None and (before["status_id"], before["pipeline_id"]) != (lead["status_id"],
                                                                              lead["pipeline_id"]):
        actions.append("status")
        fields["old_status_id"] = before["status_id"]
        if before["pipeline_id"] != lead["pipeline_id"]:
            fields["old_pipeline_id"] = before["pipeline_id"]
    if before is not None and before["responsible_user_id"] != lead["responsible_user_id"]:
        actions.append("responsible")
        fields["old_responsible_user_id"] = before["responsible_user_id"]
    tags = [{"id": t, "name": data["tags"][t]["name"]} for t in lead["tag_ids"] if t in data["tags"]]
    fields.update(tags=tags, custom_fields=_custom_fields(data, lead["custom_fields_values"]),
                  created_at=lead["created_at"], updated_at=lead["updated_at"])
    return Change("leads", tuple(actions), fields)


def _contact(data: Data, before: dict | None, contact: dict) -> Change:
    fields = {**_common(data, contact), "name": contact["name"], "type": "contact",
              "custom_fields": _custom_fields(data, contact["custom_fields_values"]),
              "created_at": contact["created_at"], "updated_at": contact["updated_at"]}
    actions = ["add"] if before is None else ["update"]
    if before is not None and before["responsible_user_id"] != contact["responsible_user_id"]:
        actions.append("responsible")
        fields["old_responsible_user_id"] = before["responsible_user_id"]
    return Change("contacts", tuple(actions), fields)


def _task(data: Data, before: dict | None, task: dict) -> Change:
    fields: dict[str, Any] = {
        "id": task["id"], "element_id": task["entity_id"] or 0,
        "element_type": ELEMENT_TYPES.get(task["entity_type"] or "", "0"), "task_type": task["task_type_id"],
        "date_create": _stamp(data, task["created_at"]), "text": task["text"],
        "status": "1" if task["is_completed"] else "0", "account_id": data["account"]["id"],
        "created_user_id": task["created_by"], "modified_user_id": task["updated_by"],
        "last_modified": _stamp(data, task["updated_at"]), "responsible_user_id": task["responsible_user_id"],
        "complete_till": _stamp(data, task["complete_till"]),
        "action_close": "1" if task["is_completed"] and not (before or {}).get("is_completed") else "0",
    }
    actions = ["add"] if before is None else ["update"]
    if before is not None:
        fields["old_text"] = before["text"]
        if before["responsible_user_id"] != task["responsible_user_id"]:
            actions.append("responsible")
            fields["old_responsible_user_id"] = before["responsible_user_id"]
    if isinstance(task["result"], dict) and task["result"].get("text"):
        fields["result"] = {"id": task["id"], "text": task["result"]["text"]}
    fields.update(created_at=task["created_at"], updated_at=task["updated_at"], complete_before=task["complete_till"])
    return Change("task", tuple(actions), fields)


def form_pairs(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Flatten nested dicts/lists into PHP bracket keys with string values, without recursion."""
    pairs: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((f"{key}[{k}]", v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((f"{key}[{i}]", v) for i, v in reversed(list(enumerate(node))))
        elif node is not None:
            pairs.append((key, "1" if node is True else "0" if node is False else str(node)))
    return pairs


def webhook_body(changes: list[Change], settings: set[str], account: dict[str, Any], base_url: str) -> str | None:
    """The form body one webhook with ``settings`` receives for ``changes``; None when none is subscribed."""
    wanted = {SETTINGS[s] for s in settings if s in SETTINGS}
    groups: dict[tuple[str, str], list[dict]] = {}
    for change in changes:
        for action in change.actions:
            if (change.entity, action) in wanted:
                groups.setdefault((change.entity, action), []).append(change.fields)
    if not groups:
        return None
    pairs = []
    for (entity, action), entries in groups.items():
        pairs += form_pairs(f"{entity}[{action}]", entries)
    pairs += form_pairs("account", {"subdomain": account["subdomain"], "id": account["id"],
                                    "_links": {"self": base_url}})
    return urlencode(pairs)


@dataclass
class Delivery:
    seq: int
    hook_id: int
    destination: str
    events: list[str]
    body: str
    queued_at: float
    status: int | None = None
    error: str | None = None
    seconds: float | None = None
    ok: bool | None = None  # None while queued

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)


class Echoes:
    """The account's webhook sender: ``publish`` after a successful request, one thread delivering in order."""

    def __init__(self, store: Store, timeout_s: float, on_event: Callable[[str], None],
                 wall: Callable[[], float] = time.time):
        self._store, self._timeout, self._on_event, self._wall = store, timeout_s, on_event, wall
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._lock = threading.Lock()
        self._seq = 0
        self._busy = 0
        self._idle = threading.Condition(self._lock)
        self._log: deque[Delivery] = deque(maxlen=1000)
        self._failures: dict[int, _Failures] = {}
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # amoCRM posts directly

    def publish(self, changes: list[Change], base_url: str) -> None:
        with self._store.read() as data:
            hooks = [dict(h) for h in data["webhooks"].values() if not h["disabled"]]
            account = dict(data["account"])
        for hook in sorted(hooks, key=lambda h: (h["sort"], h["id"])):
            body = webhook_body(changes, set(hook["settings"]), account, base_url)
            if body is None:
                continue
            events = sorted({f"{c.entity}.{a}" for c in changes for a in c.actions
                             if (c.entity, a) in {SETTINGS[s] for s in hook["settings"] if s in SETTINGS}})
            with self._lock:
                self._seq += 1
                self._busy += 1
                delivery = Delivery(self._seq, hook["id"], hook["destination"], events, body, self._wall())
                self._log.append(delivery)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="amocrm-sandbox-echoes", daemon=True)
                    self._thread.start()
            self._queue.put(delivery)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                self._deliver(delivery)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        request = urllib.request.Request(delivery.destination, data=delivery.body.encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "User-Agent": "amoCRM-Webhooks/3.0 (sandbox)"})
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                answer.read()
                delivery.status = answer.status
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
        except (OSError, ValueError) as exc:  # refused, timed out, bad URL
            delivery.error = f"{type(exc).__name__}: {exc}"
        delivery.seconds = round(time.monotonic() - started, 3)
        delivery.ok = delivery.status is not None and 200 <= delivery.status <= 299
        self._on_event("webhooks_delivered" if delivery.ok else "webhooks_failed")
        self._count_failure(delivery)

    def _count_failure(self, delivery: Delivery) -> None:
        now = self._wall()
        with self._lock:
            failures = self._failures.setdefault(delivery.hook_id, _Failures()).times
            if delivery.ok:
                return
            failures.append(now)
            while failures and failures[0] < now - FAILURE_WINDOW_S:
                failures.popleft()
            disable = len(failures) > FAILURES_TO_DISABLE
        if disable:
            with self._store.write() as data:
                hook = data["webhooks"].get(delivery.hook_id)
                if hook is not None:
                    hook["disabled"] = True

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_dict() for d in self._log]

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until every queued delivery has been attempted; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._failures.clear()
