"""``salonbridge import <tenant> FILE``: a salon's history from a spreadsheet (CSV or XLSX), in history mode.

Each row is one visit. Rows become generic booking events (channel ``import``) that go through the same
intake and processing as live bookings, oldest first, so clients, visits, cycles, the client card and the
amoCRM contact come out exactly as if the bookings had been received then. History mode
(``pipelines.rules``, ``VisitEvent`` channel ``import``): a repeat-visit cycle that fell due longer than
``clients.history_grace_days`` ago is kept as history, with no amoCRM task, lead or message; a cycle still
due (or within the grace window) gets its task as usual; imported future bookings get no confirmation.

- Idempotent: each row's event id is derived from its content (its booking id when the file has one), so
  a second run finds every row already imported and creates nothing. A run stopped half-way resumes:
  rows stored but not yet processed are processed on the next run.
- Phones are normalised to E.164 with the tenant's country; an invalid phone is reported with its row
  number (never printed whole) and the row is still imported, matched by email or name.
- Duplicates: rows of one person are merged by phone, then by email; each merge of rows with different
  names or matched only by email is reported and logged (row numbers, no contact data).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ALIASES = {
    "booking_id": ("booking_id", "visit_id", "record_id", "id", "booking"),
    "date": ("date", "start_at", "datetime", "visit_date", "start", "дата"),
    "time": ("time", "время", "час"),
    "client_id": ("client_id",),
    "name": ("name", "client", "client_name", "имя", "ім'я", "клиент", "клієнт"),
    "phone": ("phone", "телефон", "tel"),
    "email": ("email", "e-mail", "mail"),
    "birthday": ("birthday", "birth_date", "день рождения", "день народження"),
    "gender": ("gender", "sex", "пол", "стать"),
    "service": ("service", "service_title", "услуга", "послуга", "процедура"),
    "service_id": ("service_id",),
    "category": ("category", "категория", "категорія"),
    "price": ("price", "cost", "amount", "sum", "цена", "ціна", "стоимость", "вартість", "сумма", "сума"),
    "master": ("master", "staff", "мастер", "майстер"),
    "branch": ("branch", "филиал", "філія"),
    "status": ("status", "статус"),
    "comment": ("comment", "комментарий", "коментар"),
    "source": ("source", "источник", "джерело"),
    "reason": ("reason", "причина"),
    "card_type": ("card_type", "card", "карта"),
    "tags": ("tags", "теги"),
    "duration": ("duration", "duration_min"),
    "products": ("products", "goods", "товары", "товари"),
    "materials": ("materials", "consumables", "материалы", "матеріали"),
}
STATUSES = {"completed": "completed", "done": "completed", "visited": "completed", "came": "completed",
            "cancelled": "cancelled", "canceled": "cancelled", "no_show": "no_show", "no-show": "no_show",
            "scheduled": "scheduled", "confirmed": "confirmed"}
GENDERS = {"f": "female", "female": "female", "ж": "female", "m": "male", "male": "male", "м": "male",
           "other": "other"}


class ImportFileError(ValueError):
    """The file cannot be read as a visit list at all (format, header)."""


@dataclass
class ImportSummary:
    rows: int = 0
    skipped_before_since: int = 0
    events: Counter = field(default_factory=Counter)  # accepted / already imported / resumed
    outcomes: Counter = field(default_factory=Counter)  # processing result per event
    clients_before: int = 0
    clients_after: int = 0
    actions: Counter = field(default_factory=Counter)  # created by this run, per kind
    cycles_history: int = 0
    invalid_phones: list[int] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # deadline and text of each task created
    ignored_columns: list[str] = field(default_factory=list)
    stopped: str = ""  # why an API import stopped before the end (it resumes on the next run)

    def render(self) -> str:
        lines = [f"rows read                 {self.rows}"]
        if self.ignored_columns:
            lines.append(f"columns not understood    {', '.join(self.ignored_columns)} (ignored; see --help)")
        if self.skipped_before_since:
            lines.append(f"before --since, skipped   {self.skipped_before_since}")
        lines += [
            f"visits imported           {self.events['accepted']} (already imported: {self.events['duplicate']}, "
            f"resumed: {self.events['resumed']})",
            f"clients                   {self.clients_after - self.clients_before} new "
            f"({self.clients_after} in all)",
            f"rows merged into a client {len(self.merges)}",
            "created (history mode: nothing for what is long over)",
            f"  repeat-visit tasks      {self.actions['CreateTask']} (cycles kept as history: {self.cycles_history})",
            f"  leads                   {self.actions['CreateLead']}",
            f"  messages                {self.actions['SendMessage']}",
            f"  contacts to sync        {self.actions['UpsertContact']}",
        ]
        lines += [f"  task due {task}" for task in sorted(self.tasks)[:30]]
        if self.invalid_phones:
            lines.append(f"invalid phones (imported without the phone): rows {_rows(self.invalid_phones)}")
        for merge in self.merges[:20]:
            lines.append(f"  merged: {merge}")
        if len(self.merges) > 20:
            lines.append(f"  … and {len(self.merges) - 20} more merges")
        if self.stopped:
            lines.append(self.stopped)
        if self.rejected:
            lines.append(f"rejected rows             {len(self.rejected)}")
            lines += [f"  {r}" for r in self.rejected[:50]]
        return "\n".join(lines)


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:30])
    return shown + (f" and {len(numbers) - 30} more" if len(numbers) > 30 else "")


# --- reading ------------------------------------------------------------------------------------------------


def read_rows(path: Path, ignored: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, values by our column names) of a CSV or XLSX file; the
    header cells naming no known column are appended to ``ignored``."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path, ignored if ignored is not None else [])
    elif path.suffix.lower() in (".csv", ".txt"):
        yield from _csv_rows(path, ignored if ignored is not None else [])
    else:
        raise ImportFileError(f"{path.name}: expected a .csv or .xlsx file")


def _columns(header: list[Any], ignored: list[str]) -> dict[int, str]:
    names = {alias: key for key, aliases in ALIASES.items() for alias in aliases}
    found = {i: names[str(h).strip().lower()] for i, h in enumerate(header) if h and str(h).strip().lower() in names}
    ignored += [str(h).strip() for i, h in enumerate(header) if h and i not in found]
    if "date" not in found.values():
        raise ImportFileError("no date column: the header needs one of " + ", ".join(ALIASES["date"]))
    if not {"phone", "email", "client_id", "name"} & set(found.values()):
        raise ImportFileError("no client column: the header needs a phone, email, client_id or name column")
    return found


def _csv_rows(path: Path, ignored: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(8192)
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        columns = _columns(next(reader, []), ignored)
        for number, values in enumerate(reader, start=2):
            if any(v.strip() for v in values):
                yield number, {key: values[i] for i, key in columns.items() if i < len(values)}


def _xlsx_rows(path: Path, ignored: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        columns = _columns(list(next(rows, ())), ignored)
        for number, values in enumerate(rows, start=2):
            if any(v not in (None, "") for v in values):
                yield number, {key: values[i] for i, key in columns.items() if i < len(values)}
    finally:
        book.close()


# --- rows into events ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _when(row: dict[str, Any], tz: Any) -> datetime:
    value = row.get("date")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(12))
    else:
        text = _text(value)
        moment = None
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M",
                    "%d.%m.%Y %H:%M:%S", "%Y-%m-%d", "%d.%m.%Y"):
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            raise ValueError(f"date {text!r} is not YYYY-MM-DD [HH:MM] or DD.MM.YYYY [HH:MM]")
        if len(text) <= 10:
            moment = moment.replace(hour=12)
    if row.get("time") not in (None, ""):
        clock = row["time"] if isinstance(row["time"], time) else datetime.strptime(_text(row["time"])[:5], "%H:%M")
        moment = moment.replace(hour=clock.hour, minute=clock.minute)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _birthday(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _price(value: Any) -> str | None:
    text = _text(value).replace(" ", "").replace(",", ".")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"price {text!r} is not a number") from None
    if amount < 0:
        raise ValueError("price is negative")
    return str(amount)


@dataclass
class Person:
    key: str  # the imported client's id: stable for the same first phone / email / name
    first_row: int
    name: str


class People:
    """Rows of one person by phone, then email (then name when a row has neither)."""

    def __init__(self) -> None:
        self.by_phone: dict[str, Person] = {}
        self.by_email: dict[str, Person] = {}
        self.by_name: dict[str, Person] = {}

    def person(self, number: int, name: str, phone: str | None, email: str | None, merges: list[str]) -> Person:
        found, how = None, ""
        if phone and phone in self.by_phone:
            found, how = self.by_phone[phone], "phone"
        elif email and email in self.by_email:
            found, how = self.by_email[email], "email"
        elif not phone and not email and name.casefold() in self.by_name:
            found, how = self.by_name[name.casefold()], "name (no phone or email)"
        if found is None:
            identity = phone or email or f"name:{name.casefold()}"
            found = Person("imp-" + hashlib.sha256(identity.encode()).hexdigest()[:16], number, name)
        elif how != "phone" or (name and found.name and name.casefold() != found.name.casefold()):
            merges.append(f"row {number} → client of row {found.first_row} (same {how})")
            log.info("import: row %s merged into the client of row %s by %s", number, found.first_row, how)
        if phone:
            self.by_phone.setdefault(phone, found)
        if email:
            self.by_email.setdefault(email, found)
        if not phone and not email and name:
            self.by_name.setdefault(name.casefold(), found)
        return found


def row_event(number: int, row: dict[str, Any], tenant: Any, people: People, summary: ImportSummary,
              now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(generic event body, card fields to fill) of one row; ValueError naming what is wrong."""
    from bridge.booking.phones import normalize_email, to_e164

    start = _when(row, tenant.timezone)
    raw_phone, raw_email = _text(row.get("phone")), _text(row.get("email"))
    phone = to_e164(raw_phone, tenant.country) if raw_phone else None
    if raw_phone and phone is None:
        summary.invalid_phones.append(number)
    email = normalize_email(raw_email) if raw_email else None
    name = _text(row.get("name"))
    if not (phone or email or name or _text(row.get("client_id"))):
        raise ValueError("no client: the row has no valid phone, email, client id or name")
    person = people.person(number, name, phone, email, summary.merges)
    status = STATUSES.get(_text(row.get("status")).lower()) or ("completed" if start < now else "scheduled")
    title = _text(row.get("service")) or _text(row.get("category")) or "visit"
    service = {"id": _text(row.get("service_id")) or title[:64], "title": title[:200],
               "category": _text(row.get("category")) or None, "price": _price(row.get("price"))}
    booking_id = _text(row.get("booking_id")) or "imp-" + hashlib.sha256(
        f"{start.isoformat()}|{person.key}|{title}".encode()).hexdigest()[:20]
    master = _text(row.get("master"))
    body: dict[str, Any] = {
        "event_id": f"import:{booking_id}:{status}",
        "occurred_at": start.isoformat(),
        "booking": {"id": booking_id, "status": status, "start_at": start.isoformat(),
                    "branch": _branch(tenant, _text(row.get("branch"))), "services": [service], "channel": "import",
                    "staff": {"id": master[:64], "name": master} if master else None,
                    "comment": _text(row.get("comment"))[:2000] or None},
        "client": {"id": _text(row.get("client_id")) or person.key, "name": name or None, "phone": phone,
                   "email": email, "birthday": _birthday(row.get("birthday")),
                   "gender": GENDERS.get(_text(row.get("gender")).lower())},
        "meta": {"import_row": number},
    }
    goods = [line for kind in ("product", "material") for line in _goods(kind, _text(row.get(kind + "s")))]
    if goods:
        body["booking"]["goods"] = goods
    duration = _text(row.get("duration"))
    if duration.isdigit():
        body["booking"]["duration_min"] = min(int(duration), 1440)
    card = {"acquisition": _text(row.get("source")) or None, "reason": _text(row.get("reason")) or None,
            "card_type": _text(row.get("card_type")) or None,
            "tags": [t.strip() for t in _text(row.get("tags")).split(",") if t.strip()] or None}
    return body, {k: v for k, v in card.items() if v}


_GOODS_ITEM = re.compile(r"^(?P<title>.+?)(?:\s*[x×]\s*(?P<qty>\d+(?:[.,]\d+)?)\s*(?P<unit>[^\s=\d][^=]*?)?)?"
                         r"(?:\s*=\s*(?P<amount>\S+))?$")


def _goods(kind: str, cell: str) -> list[dict[str, Any]]:
    """Goods of one cell, ``;``-separated: ``Hand cream x2 = 450; Serum = 300`` (products),
    ``Gel polish x2.5 ml; Foil x3`` (materials): title, optional ×quantity with a unit, optional = amount."""
    lines = []
    for item in (part.strip() for part in cell.split(";")):
        match = _GOODS_ITEM.match(item) if item else None
        if match is None:
            continue
        line: dict[str, Any] = {"kind": kind, "title": match["title"].strip()[:200]}
        if match["qty"]:
            line["quantity"] = match["qty"].replace(",", ".")
        if match["unit"] and match["unit"].strip():
            line["unit"] = match["unit"].strip()[:32]
        if match["amount"]:
            line["amount"] = _amount(kind, match["amount"])
        lines.append(line)
    return lines


def _amount(kind: str, value: str) -> str:
    try:
        return str(_price(value))
    except ValueError as exc:
        raise ValueError(f"{kind}s: {exc}".replace("price", "amount")) from None


def _branch(tenant: Any, value: str) -> str | None:
    if not value:
        return None
    for branch in tenant.branches:
        if value == branch.id or value.casefold() == branch.name.casefold():
            return branch.id
    raise ValueError(f"unknown branch {value!r}; the tenant has "
                     + ", ".join(f"{b.id} ({b.name})" for b in tenant.branches))


# --- running ------------------------------------------------------------------------------------------------


def run_import(svc: Any, tenant: Any, path: Path, since: date | None, progress: Any = None) -> ImportSummary:
    """Import ``path`` into ``tenant``; the summary of what the run created."""
    from bridge import intake
    from bridge.booking.errors import PayloadError
    from bridge.booking.generic import normalize_generic
    from jobs.process_event import handle_event

    now = datetime.now(UTC)
    summary = ImportSummary()
    people = People()
    prepared = []
    for number, row in read_rows(path, summary.ignored_columns):
        summary.rows += 1
        try:
            body, card = row_event(number, row, tenant, people, summary, now)
            if since and datetime.fromisoformat(body["booking"]["start_at"]).date() < since:
                summary.skipped_before_since += 1
                continue
            event = normalize_generic(body, tenant, now)
        except PayloadError as exc:
            summary.rejected.append(f"row {number}: {exc} {exc.fields}")
            continue
        except (ValueError, TypeError) as exc:
            summary.rejected.append(f"row {number}: {exc}")
            continue
        prepared.append((event.booking.start_at, number, event, card))
    prepared.sort(key=lambda item: (item[0], item[1]))  # oldest first: cycles follow each other in order
    summary.clients_before = _clients(svc, tenant)
    event_ids: list[int] = []
    for _, _number, event, card in progress(prepared) if progress else prepared:
        receipt = intake.store_event(svc.store, event, now)
        status = handle_event(svc, receipt.event_id, datetime.now(UTC))
        summary.events["duplicate" if receipt.duplicate and status == "already-done" else
                       "resumed" if receipt.duplicate else "accepted"] += 1
        summary.outcomes[status] += 1
        if status != "already-done":
            event_ids.append(receipt.event_id)
            _fill_card(svc, tenant, event, card)
    summary.clients_after = _clients(svc, tenant)
    count_actions(svc, event_ids, summary)
    return summary


def count_actions(svc: Any, event_ids: list[int], summary: ImportSummary) -> None:
    """What the run's events created, per action kind; the tasks with their due dates."""
    from sqlalchemy import select

    from bridge.store.models import AppliedAction

    with svc.store.session() as s:
        for chunk in range(0, len(event_ids), 500):
            ids = event_ids[chunk:chunk + 500]
            for kind, payload in s.execute(select(AppliedAction.kind, AppliedAction.payload)
                                           .where(AppliedAction.event_id.in_(ids))):
                summary.actions[kind] += 1
                if kind == "CreateTask":
                    summary.tasks.append(f"{str(payload.get('deadline', ''))[:10]}  {payload.get('text', '')[:100]}")
                if kind == "CloseCycle" and str(payload.get("reason", "")).startswith("history:"):
                    summary.cycles_history += 1


def _fill_card(svc: Any, tenant: Any, event: Any, card: dict[str, Any]) -> None:
    """The card fields the file gives, on the client the row became, where the card has none yet."""
    if not card or event.client is None:
        return
    from bridge.store import visits

    with svc.store.session() as s:
        client = visits.find_client(s, tenant.slug, event.source, event.client)
        if client is None:
            return
        for key, value in card.items():
            if key == "tags":
                client.tags = sorted(set(client.tags or []) | set(value))
            elif key == "acquisition":
                if client.acquisition in (None, "import", ""):
                    client.acquisition = value
            elif getattr(client, key) in (None, ""):
                setattr(client, key, value)


# --- from the booking system's REST API (YCLIENTS / Altegio) -------------------------------------------------

PAGE_SIZE = 100
MAX_WAITS = 5  # rate-limit or server-error waits per page before the run stops (and can be resumed)


def _checkpoint_path(svc: Any, tenant: Any) -> Path:
    return Path(svc.settings.instance_dir) / f"import-{tenant.slug}.json"


def run_api_import(svc: Any, tenant: Any, since: date | None, progress: Any = None,
                   sleep: Any = None) -> ImportSummary:
    """Every record of every branch changed since ``since`` (default: 2000-01-01), page by page, in history
    mode. After each page the position is saved in the instance folder, so a run stopped by an error
    resumes at that page; a second complete run finds every record already imported."""
    import json
    import time as clock

    from bridge.booking.yclients import YclientsError, api_client

    client = api_client(tenant)
    if client is None:
        raise ImportFileError(f"{tenant.slug} has no booking-system API credentials (booking.partner_token_env "
                              "and user_token_env in the tenant file): import from a CSV or XLSX file instead")
    start = datetime.combine(since or date(2000, 1, 1), time(0), tzinfo=tenant.timezone)
    path = _checkpoint_path(svc, tenant)
    saved = json.loads(path.read_text()) if path.exists() else {}
    if saved.get("since") != start.isoformat():
        saved = {"since": start.isoformat(), "pages": {}}
    summary = ImportSummary(clients_before=_clients(svc, tenant))
    event_ids: list[int] = []
    bar = progress(None) if progress else None
    branch, page = None, 0
    try:
        for branch in tenant.branches:
            page = saved["pages"].get(branch.id, 0) + 1
            while True:
                records, total = _fetch_page(client, branch.id, start, page, tenant.timezone, sleep or clock.sleep)
                for record in sorted(records, key=lambda r: str(r.get("datetime") or r.get("date") or "")):
                    _import_record(svc, tenant, client, branch.id, record, summary, event_ids)
                    if bar is not None:
                        bar.update(1)
                saved["pages"][branch.id] = page
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(saved))
                if not records or len(records) < PAGE_SIZE or (total is not None and page * PAGE_SIZE >= total):
                    break
                page += 1
    except YclientsError as exc:
        summary.stopped = (f"stopped by the booking system ({exc}) at branch {branch.id if branch else '?'}, "
                           f"page {page}; run the same command again to resume there")
    finally:
        client.close()
        if bar is not None:
            bar.close()
    if not summary.stopped:
        path.unlink(missing_ok=True)
    summary.clients_after = _clients(svc, tenant)
    count_actions(svc, event_ids, summary)
    return summary


def _clients(svc: Any, tenant: Any) -> int:
    from sqlalchemy import func, select

    from bridge.store.models import Client

    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(Client).where(Client.tenant == tenant.slug)) or 0


def _fetch_page(client: Any, branch: str, start: datetime, page: int, tz: Any, wait: Any) -> tuple[list, int | None]:
    """One page, waiting out rate limits (Retry-After) and server errors up to MAX_WAITS times."""
    from bridge.booking.yclients import YclientsError, YclientsRateLimited

    for attempt in range(MAX_WAITS + 1):
        try:
            return client.records_page(branch, start, page, count=PAGE_SIZE, tz=tz)
        except YclientsRateLimited as exc:
            if attempt == MAX_WAITS:
                raise
            wait(exc.retry_after)
        except YclientsError as exc:
            if not exc.retryable or attempt == MAX_WAITS:
                raise
            wait(min(60, 2 ** attempt))
    raise AssertionError("unreachable")


def _import_record(svc: Any, tenant: Any, client: Any, branch: str, record: dict[str, Any], summary: ImportSummary,
                   event_ids: list[int]) -> None:
    from dataclasses import replace

    from bridge import intake
    from bridge.booking.errors import IgnoredResource, PayloadError
    from bridge.booking.yclients import normalize_record
    from jobs.process_event import handle_event

    now = datetime.now(UTC)
    summary.rows += 1
    try:
        event = normalize_record(client.record_as_webhook(record, branch), tenant, now)
    except IgnoredResource:
        return
    except PayloadError as exc:
        summary.rejected.append(f"record {record.get('id')}: {exc} {exc.fields}")
        return
    if any("phone" in w for w in event.extra.get("warnings", ())):
        summary.invalid_phones.append(int(record.get("id") or 0))
    event = replace(event, extra={**event.extra, "history": True})
    receipt = intake.store_event(svc.store, event, now)
    status = handle_event(svc, receipt.event_id, datetime.now(UTC))
    summary.events["duplicate" if receipt.duplicate and status == "already-done" else
                   "resumed" if receipt.duplicate else "accepted"] += 1
    summary.outcomes[status] += 1
    if status != "already-done":
        event_ids.append(receipt.event_id)
