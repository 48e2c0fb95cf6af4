"""The client card and client segments over the store (seed 001, DESIGN §6 rule 12).

A segment (``pipelines.segments``) runs as one set-based statement: the tenant's clients joined to one
aggregate of their completed visits (count, spend, last visit), each filter a WHERE clause or an
EXISTS over the visits. Rows are streamed, so an export of 100,000 clients is never held in memory.
Tags and visit categories are JSON lists; they are matched on their stored text (``"tag"`` as JSON
writes it), which SQLite and PostgreSQL both keep as given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from bridge.store.models import Client, Visit, VisitService
from bridge.store.visits import goods_of
from pipelines.catalog import canonical_category
from pipelines.segments import MonthDays, Range, Segment

log = logging.getLogger(__name__)
CARD_FIELDS = ("name", "phone", "email", "gender", "birthday", "card_type", "balance", "blacklisted", "comment",
               "acquisition", "reason", "tags", "opted_out")


class ClientConflict(ValueError):
    """Another client of the tenant already has this phone or email."""


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def completed_totals(tenant: str) -> Any:
    """Per client: completed visits, their spend and the last one's start (a subquery)."""
    return (
        select(Visit.client_id.label("client_id"), func.count().label("visits"),
               func.coalesce(func.sum(Visit.total_price), 0).label("spend"),
               func.max(Visit.start_at).label("last_visit"))
        .where(Visit.tenant == tenant, Visit.status == "completed", Visit.client_id.is_not(None))
        .group_by(Visit.client_id).subquery("totals")
    )


def month_day(column: Any, dialect: str) -> Any:
    """``MM-DD`` of a date column."""
    if dialect == "postgresql":
        return func.to_char(column, "MM-DD")
    return func.strftime("%m-%d", column)


def month_days(column: Any, days: MonthDays, dialect: str) -> Any:
    md = month_day(column, dialect)
    start, end = (f"{m:02d}-{d:02d}" for m, d in (days.start, days.end))
    if days.start <= days.end:
        return and_(md >= start, md <= end)
    return or_(md >= start, md <= end)


def _json_has(column: Any, value: str) -> Any:
    """A JSON list column whose stored text holds ``value`` as an element."""
    pattern = json.dumps(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, String).like(f"%{pattern}%", escape="\\")


def _in_range(column: Any, r: Range[Any] | None) -> list[Any]:
    if r is None:
        return []
    out = []
    if r.low is not None:
        out.append(column >= r.low)
    if r.high is not None:
        out.append(column <= r.high)
    return out


def _lower_in(column: Any, values: tuple[str, ...]) -> Any:
    """The column equals one of the values in its usual spellings (as typed, lower, Capitalised, Title,
    UPPER): SQLite's lower() folds only ASCII, and Cyrillic names must match the same way on both."""
    spellings = {form for v in values for form in (v, v.lower(), v.capitalize(), v.title(), v.upper())}
    return column.in_(sorted(spellings))


def segment_query(tenant: str, segment: Segment, tz: ZoneInfo, dialect: str) -> Select:
    """The statement of a segment: one row per client with its card and visit totals."""
    totals = completed_totals(tenant)
    visits = func.coalesce(totals.c.visits, 0)
    spend = func.coalesce(totals.c.spend, 0)
    query = (
        select(Client.id, Client.name, Client.phone, Client.email, Client.gender, Client.birthday, Client.card_type,
               Client.balance, Client.blacklisted, Client.acquisition, Client.reason, Client.tags, Client.opted_out,
               Client.comment, visits.label("visits"), spend.label("spend"), totals.c.last_visit)
        .outerjoin(totals, totals.c.client_id == Client.id)
        .where(Client.tenant == tenant)
        .order_by(Client.name, Client.id)
    )
    where = [*_card_where(segment, dialect), *_totals_where(segment, totals, visits, spend, tz),
             *_visit_where(tenant, segment)]
    return query.where(*where) if where else query


def _card_where(segment: Segment, dialect: str) -> list[Any]:
    where: list[Any] = [_json_has(Client.tags, tag) for tag in segment.tags]
    if segment.gender:
        where.append(Client.gender.in_(segment.gender))
    if segment.birthday:
        where.append(month_days(Client.birthday, segment.birthday, dialect))
    for values, column in ((segment.card_type, Client.card_type), (segment.source, Client.acquisition),
                           (segment.reason, Client.reason)):
        if values:
            where.append(_lower_in(column, values))
    where += _in_range(func.coalesce(Client.balance, 0), segment.balance)
    if segment.blacklisted is not None:
        where.append(Client.blacklisted.is_(True) if segment.blacklisted
                     else or_(Client.blacklisted.is_(False), Client.blacklisted.is_(None)))
    return where


def _totals_where(segment: Segment, totals: Any, visits: Any, spend: Any, tz: ZoneInfo) -> list[Any]:
    where: list[Any] = []
    r = segment.last_visit
    if r is not None:
        where.append(totals.c.last_visit.is_not(None))
        if r.low is not None:
            where.append(totals.c.last_visit >= day_start(r.low, tz))
        if r.high is not None:
            where.append(totals.c.last_visit < day_start(r.high + timedelta(days=1), tz))
    return where + _in_range(spend, segment.spend) + _in_range(visits, segment.visits)


def _visit_where(tenant: str, segment: Segment) -> list[Any]:
    """Any completed visit with one of the categories, at one of the branches, by one of the masters."""
    where: list[Any] = []
    if segment.category:
        keys = [canonical_category(c) or c for c in segment.category]
        where.append(or_(*(_json_has(Visit.categories, k) for k in keys)))
    if segment.branch:
        where.append(Visit.branch.in_(segment.branch))
    if segment.master:
        where.append(_lower_in(Visit.staff_name, segment.master))
    if not where:
        return []
    return [exists().where(Visit.client_id == Client.id, Visit.tenant == tenant, Visit.status == "completed", *where)]


@dataclass(frozen=True)
class SegmentRow:
    id: int
    name: str | None
    phone: str | None
    email: str | None
    gender: str | None
    birthday: date | None
    card_type: str | None
    balance: Decimal | None
    blacklisted: bool
    acquisition: str | None
    reason: str | None
    tags: tuple[str, ...]
    opted_out: bool
    comment: str | None
    visits: int
    spend: Decimal
    last_visit: datetime | None

    def record(self, tz: ZoneInfo) -> dict[str, Any]:
        """Typed values for the formatters: dates as dates, money as Decimal."""
        return {
            "client_id": self.id, "name": self.name, "phone": self.phone, "email": self.email, "gender": self.gender,
            "birthday": self.birthday, "card_type": self.card_type, "balance": self.balance,
            "blacklisted": self.blacklisted, "source": self.acquisition, "reason": self.reason,
            "tags": ", ".join(self.tags), "visits": self.visits, "spend": self.spend,
            "average_check": (self.spend / self.visits).quantize(Decimal("0.01")) if self.visits else None,
            "last_visit": self.last_visit.astimezone(tz).date() if self.last_visit else None,
        }


def run_segment(conn: Connection, tenant: str, segment: Segment, tz: ZoneInfo,
                batch: int = 5000) -> Iterator[SegmentRow]:
    """The clients of a segment, streamed in batches (exports of any size in bounded memory)."""
    query = segment_query(tenant, segment, tz, conn.dialect.name)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
    for r in result:
        last = r.last_visit
        if isinstance(last, str):  # SQLite returns an aggregate's datetime as text
            last = datetime.fromisoformat(last)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=ZoneInfo("UTC"))
        yield SegmentRow(r.id, r.name, r.phone, r.email, r.gender, r.birthday, r.card_type, r.balance,
                         bool(r.blacklisted), r.acquisition, r.reason, tuple(r.tags or ()), bool(r.opted_out),
                         r.comment, int(r.visits or 0), Decimal(str(r.spend or 0)), last)


def count_segment(conn: Connection, tenant: str, segment: Segment, tz: ZoneInfo) -> int:
    """How many clients the segment holds (one COUNT over the same statement: the builder's live count)."""
    query = segment_query(tenant, segment, tz, conn.dialect.name).order_by(None).subquery()
    return int(conn.execute(select(func.count()).select_from(query)).scalar_one())


# --- the card, by hand ------------------------------------------------------------------------------------


def find(session: Session, tenant: str, ref: str) -> Client | None:
    """A client by local id (``#12`` or ``12``), E.164 phone or email."""
    ref = ref.strip()
    if ref.lstrip("#").isdigit() and not ref.startswith("+"):
        return session.scalar(select(Client).where(Client.tenant == tenant, Client.id == int(ref.lstrip("#"))))
    column = Client.email if "@" in ref else Client.phone
    return session.scalar(select(Client).where(Client.tenant == tenant, column == ref).order_by(Client.id).limit(1))


def _conflict(session: Session, tenant: str, values: Mapping[str, Any], own_id: int | None) -> None:
    for key in ("phone", "email"):
        if values.get(key):
            other = session.scalar(select(Client.id).where(
                Client.tenant == tenant, getattr(Client, key) == values[key],
                Client.id != own_id if own_id is not None else literal(True)).limit(1))
            if other is not None:
                raise ClientConflict(f"client #{other} already has this {key}; edit that one instead")


def add(session: Session, tenant: str, values: Mapping[str, Any], now: datetime) -> Client:
    """A client typed in by staff (``source`` manual); ClientConflict when the phone or email is taken."""
    if not (values.get("phone") or values.get("email") or values.get("name")):
        raise ValueError("a client needs at least a name, a phone or an email")
    _conflict(session, tenant, values, None)
    client = Client(tenant=tenant, source="manual", created_at=now, updated_at=now, tags=[], blacklisted=False,
                    opted_out=False)
    _apply(client, values)
    if client.acquisition is None:
        client.acquisition = "administrator"
    session.add(client)
    session.flush()
    return client


def edit(session: Session, client: Client, values: Mapping[str, Any], now: datetime) -> list[str]:
    """Change the given card fields; the names of the fields that changed."""
    _conflict(session, client.tenant, values, client.id)
    before = {k: getattr(client, k) for k in values}
    _apply(client, values)
    changed = [k for k in values if getattr(client, k) != before[k]]
    if changed:
        client.updated_at = now
    return changed


def _goods(stored: list[Any] | None) -> dict[str, list[dict[str, Any]]]:
    """A visit's goods for the card: ``products`` and ``materials``, each line with title, quantity, unit,
    amount (Decimal) and the booking system's id."""
    out: dict[str, list[dict[str, Any]]] = {"products": [], "materials": []}
    for line in goods_of(stored):
        out["products" if line.kind == "product" else "materials"].append(
            {"title": line.title, "quantity": line.quantity, "unit": line.unit, "amount": line.amount,
             "id": line.external_id})
    return out


def _apply(client: Client, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key not in CARD_FIELDS:
            raise ValueError(f"unknown client field {key!r}")
        setattr(client, key, list(value) if key == "tags" else value)


def card(session: Session, client: Client, tz: ZoneInfo) -> dict[str, Any]:
    """The card as the CLI and the API show it: fields, totals, favourite master, and every booking with its
    services, products sold and materials used (amounts as Decimal) and comment."""
    rows = session.execute(
        select(Visit.id, Visit.external_id, Visit.status, Visit.start_at, Visit.staff_name, Visit.branch,
               Visit.total_price, Visit.comment, Visit.goods)
        .where(Visit.client_id == client.id).order_by(Visit.start_at.desc())).all()
    services: dict[int, list[str]] = {}
    lines = select(VisitService.visit_id, VisitService.title).join(Visit, Visit.id == VisitService.visit_id)
    for line in session.execute(lines.where(Visit.client_id == client.id).order_by(VisitService.position)):
        services.setdefault(line.visit_id, []).append(line.title)
    done = [r for r in rows if r.status == "completed"]
    spend = sum((r.total_price or Decimal(0) for r in done), Decimal(0))
    masters: dict[str, int] = {}
    for r in done[:5]:
        if r.staff_name:
            masters[r.staff_name] = masters.get(r.staff_name, 0) + 1
    return {
        "client_id": client.id, **{k: getattr(client, k) for k in CARD_FIELDS}, "utm": client.utm,
        "visits": len(done), "spend": spend,
        "average_check": (spend / len(done)).quantize(Decimal("0.01")) if done else None,
        "favourite_master": max(masters, key=lambda m: masters[m]) if masters else None,
        "last_visit": done[0].start_at.astimezone(tz).date() if done else None,
        "history": [{"booking": r.external_id, "status": r.status, "at": r.start_at.astimezone(tz),
                     "master": r.staff_name, "branch": r.branch, "price": r.total_price, "comment": r.comment,
                     "services": services.get(r.id, []), **_goods(r.goods)}
                    for r in rows],
    }
