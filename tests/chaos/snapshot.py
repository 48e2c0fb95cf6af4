"""What a run left behind, without the ids and times that differ between two runs, and how two runs differ.

The amoCRM side is read from the sandbox's stored data (``/_sandbox/data/<table>``: unlimited, unjournaled),
so reading it costs no API budget; the store side with plain SQL on the install's database. Every part is
a sorted list (a multiset): a record written twice shows up as surely as one missing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import create_engine, text

from pipelines.texts import TEXTS

MARKER = re.compile(r"\s*#[0-9a-f]{8}$")  # exactly-once marks name store ids, which differ per install
LINK = re.compile(r"https?://\S+")  # a message's signed link names the install's own address and key
MARKER_FIELD = "SB_MARKER"
Snapshot = dict[str, list]


def _table(url: str, name: str) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/_sandbox/data/{name}", timeout=30)
    response.raise_for_status()
    return response.json()[name]


def _strip(value: str | None) -> str:
    return MARKER.sub("", value or "")


def amocrm_state(url: str, window: tuple[float, float]) -> Snapshot:
    """Leads with pipeline and stage, contacts with their fields, tasks (open/completed, deadline, result),
    notes and Salesbot launches, each named by the entity it belongs to. A deadline inside ``window`` (the
    runs' own span: a task restored after its deadline passed is due "now") compares as 0."""
    stages = {s["id"]: (p["name"], s["name"]) for p in _table(url, "pipelines") for s in p["statuses"]}
    custom = {f["id"]: f for f in _table(url, "custom_fields")}
    contacts, leads = _table(url, "contacts"), _table(url, "leads")
    names = {("contacts", c["id"]): c["name"] for c in contacts} | {("leads", ld["id"]): _strip(ld["name"])
                                                                   for ld in leads}

    def fields(row: dict) -> tuple:
        named = ((custom.get(f["field_id"], {}), f) for f in row.get("custom_fields_values") or [])
        return tuple(sorted((known.get("name", str(f["field_id"])), tuple(str(v.get("value")) for v in f["values"]))
                            for known, f in named if known.get("code") != MARKER_FIELD))

    def due(at: int) -> int:
        return 0 if window[0] <= at <= window[1] else at

    def result(task: dict) -> str:
        return _strip(task["result"].get("text")) if isinstance(task["result"], dict) else ""

    return {
        "contacts": sorted(c["name"] for c in contacts),  # each client's contact once, none missing
        "contact_fields": sorted((c["name"], fields(c)) for c in contacts),
        "leads": sorted((_strip(ld["name"]), *stages[ld["status_id"]], ld.get("price") or 0, fields(ld))
                        for ld in leads),
        "tasks": sorted((names.get((t["entity_type"], t["entity_id"]), ""), _strip(t["text"]), due(t["complete_till"]),
                         t["is_completed"], result(t)) for t in _table(url, "tasks")),
        "notes": sorted((names.get((n["entity_type"], n["entity_id"]), ""), n["note_type"],
                         LINK.sub("<link>", _strip(str((n.get("params") or {}).get("text", "")))))
                        for n in _table(url, "notes")),
        "messages": sorted((r["bot_id"], names.get((r["entity_type"], r["entity_id"]), ""), r["started"])
                           for r in _table(url, "salesbot_runs")),
    }


STORE_QUERIES = {
    # how many events, and how many not final; done vs stale depends on the order of arrival, by design
    "events": "SELECT source, count(*), sum(CASE WHEN status IN ('done', 'stale', 'invalid') THEN 0 ELSE 1 END) "
              "FROM inbound_events GROUP BY source",
    "clients": "SELECT external_id, name, phone, email, opted_out FROM clients",
    "visits": "SELECT v.external_id, v.status, v.branch, v.total_price, c.external_id FROM visits v "
              "LEFT JOIN clients c ON c.id = v.client_id",
    "cycles": "SELECT c.external_id, y.category, y.anchor_visit_id, y.task_state, y.task_exists, y.cancelled_by "
              "FROM cycles y JOIN clients c ON c.id = y.client_id",
    "store_leads": "SELECT c.external_id, l.pipeline, l.stage, l.status, l.manual FROM leads l "
                   "JOIN clients c ON c.id = l.client_id",
    # (the occasion of a reminder names its send time, which counts from when the booking was processed)
    "store_messages": "SELECT c.external_id, m.template, m.state, m.booking_id FROM messages m "
                      "JOIN clients c ON c.id = m.client_id",
    # not compared: actions by kind, since an update that arrives after a newer one is stale and plans none
}


def store_state(database_url: str) -> Snapshot:
    """The install's own record of the same work: events by status, clients, visits, repeat-visit cycles,
    leads and messages."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {part: sorted(tuple(str(v) for v in row) for row in conn.execute(text(sql)))
                    for part, sql in STORE_QUERIES.items()}
    finally:
        engine.dispose()


UNKNOWN_OUTCOME = ("SELECT c.external_id, c.name, m.template, m.booking_id FROM messages m "
                   "JOIN clients c ON c.id = m.client_id WHERE m.state = 'failed' AND m.error LIKE '%outcome unknown%'")


def unknown_outcomes(database_url: str) -> list[tuple[str, str, str, str]]:
    """Messages whose send was answered with a 5xx: they may or may not have gone out, so the product closed
    them as failed and never sends them again (one send per client, trigger and occasion, at most)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(str(v) for v in row) for row in conn.execute(text(UNKNOWN_OUTCOME))]
    finally:
        engine.dispose()


@dataclass
class Difference:
    part: str
    missing: list  # in the clean run, not in the other
    extra: list  # in the other run, not in the clean one (a duplicate counts here)

    def __str__(self) -> str:
        return f"{self.part}: {len(self.missing)} missing {self.missing[:3]}, {len(self.extra)} extra {self.extra[:3]}"


def compare(clean: Snapshot, other: Snapshot) -> list[Difference]:
    """Every part where the two runs differ, as multisets."""
    out = []
    for part in sorted(set(clean) | set(other)):
        want, got = Counter(clean.get(part, [])), Counter(other.get(part, []))
        if want != got:
            out.append(Difference(part, sorted((want - got).elements()), sorted((got - want).elements())))
    return out


def excuse_unknown(diffs: list[Difference], unknown: list[tuple[str, str, str, str]]) -> list[Difference]:
    """The differences left once each message of unknown outcome is accounted for, and nothing more: its row
    (sent in the clean run, failed here), its Salesbot run and its note, each missing at most once."""
    rows = Counter((ext, template, booking) for ext, _, template, booking in unknown)
    runs = Counter(name for _, name, _, _ in unknown)
    notes = Counter((name, template) for _, name, template, _ in unknown)
    out = []
    for d in diffs:
        missing, extra = list(d.missing), list(d.extra)
        if d.part == "store_messages":
            missing = _drop(missing, rows.copy(), lambda r: (r[0], r[1], r[3]) if r[2] == "sent" else None)
            extra = _drop(extra, rows.copy(), lambda r: (r[0], r[1], r[3]) if r[2] == "failed" else None)
        elif d.part == "messages":
            missing = _drop(missing, runs.copy(), lambda r: r[1])
        elif d.part == "notes":
            missing = _drop(missing, notes.copy(), lambda r: (r[0], _salesbot_template(r[2])))
        if missing or extra:
            out.append(Difference(d.part, missing, extra))
    return out


def _salesbot_template(note: str) -> str | None:
    found = re.match(r"Salesbot → ([a-z0-9_]+):", note)
    return found.group(1) if found else None


def _drop(items: list, allowed: Counter, key: Any) -> list:
    """``items`` without those whose ``key`` is still ``allowed`` (each allowance used once)."""
    left = []
    for item in items:
        k = key(item)
        if k is not None and allowed[k] > 0:
            allowed[k] -= 1
        else:
            left.append(item)
    return left


def figures(snapshot: Snapshot) -> dict[str, int]:
    tasks = snapshot.get("tasks", [])
    return {"contacts": len(snapshot.get("contacts", [])), "leads": len(snapshot.get("leads", [])),
            "tasks_open": sum(1 for t in tasks if not t[3]), "tasks_completed": sum(1 for t in tasks if t[3]),
            "notes": len(snapshot.get("notes", [])), "messages": len(snapshot.get("messages", []))}


# What depends on the order a client's events were processed in by nature (docs/reliability.md, "What stays
# order-dependent"), each by its exact form, so that everything else is compared strictly:
# - a booking cancelled before its creation was processed is never confirmed, nor reminded of (in order it was:
#   a message sent cannot be unsent, and one for a booking known to be cancelled must not go); a new client's
#   welcome goes with the booking processed first;
# - a cancellation processed before another same-category booking made before it restores the category's task
#   (a new amoCRM task and a note) and that booking closes it again when it arrives, where in order the task
#   stayed closed; the closed task keeps the result it had then. A missed booking of a new client processed
#   before a rebooking made before it, or before an earlier visit's completion, gets its call task.
REORDERED_MESSAGES = ("confirmation", "reminder_24h", "welcome")


def _form(name: str, language: str) -> re.Pattern:
    """A staff text of ``pipelines.texts`` as a pattern, any value in its placeholders."""
    parts = re.split(r"\{[a-z_]+\}", TEXTS[name][language])
    return re.compile(".*".join(re.escape(part) for part in parts) + r"(\s*#[0-9a-f]{8})?$", re.S)


def _reordered(part: str, item: tuple, side: str, language: str) -> bool:
    if part == "tasks":  # (entity, text, deadline, completed, result)
        closed_periodic = item[3] and bool(_form("periodic_cancelled", language).match(item[4])) and bool(
            _form("periodic_task", language).match(item[1]))
        call = not item[3] and any(_form(n, language).match(item[1]) for n in ("sales_call_cancelled",
                                                                               "sales_call_no_show"))
        return (closed_periodic or call) and side == "extra"  # the in-order run never has more of them
    if part == "notes":  # (entity, type, text)
        restored = side == "extra" and bool(_form("periodic_restored", language).match(item[2]))
        return restored or _salesbot_template(item[2]) in REORDERED_MESSAGES
    if part == "messages":  # a Salesbot launch: (bot, entity, started), the template not named
        return side == "missing"
    if part == "store_messages":  # (client, template, state, booking)
        return item[1] in REORDERED_MESSAGES
    return False


def reordered_by_nature(diffs: list[Difference], language: str = "uk") -> tuple[list[Difference], list[Difference]]:
    """``diffs`` split into what is order-dependent by nature (above) and everything else."""
    by_nature, rest = [], []
    for d in diffs:
        split = {side: ([i for i in items if _reordered(d.part, i, side, language)],
                        [i for i in items if not _reordered(d.part, i, side, language)])
                 for side, items in (("missing", d.missing), ("extra", d.extra))}
        if split["missing"][0] or split["extra"][0]:
            by_nature.append(Difference(d.part, split["missing"][0], split["extra"][0]))
        if split["missing"][1] or split["extra"][1]:
            rest.append(Difference(d.part, split["missing"][1], split["extra"][1]))
    return by_nature, rest
