"""Seed 001's five client reports over the store, each a few set-based statements whatever the size.

- birthdays: clients whose birthday falls in the period (the date in it and the age they turn);
- planned: open repeat-visit cycles due in the period whose task still waits (per category, due date);
- new_clients: clients whose first booking lies in the period, by acquisition source and reason;
- rating: clients by what their completed visits in the period brought, with card type and status,
  and the totals per card type and per status;
- lost: clients whose last completed visit is older than ``lost_after_days`` with nothing booked,
  per branch and master of that last visit, beside the clients still active there.

Dates are the tenant's local dates; the period includes both ends. ``branch`` narrows each report to
clients with a completed visit at that branch (planned and lost: the visit the cycle or the loss counts
from). Rows carry typed values (``date``, ``Decimal``) for ``salonbridge.tables``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, case, exists, func, literal, or_, select

from bridge.store.clients import day_start, month_days
from bridge.store.models import UPCOMING_STATUS, Client, CycleRow, Visit
from pipelines.catalog import category_label
from pipelines.segments import MonthDays

REPORTS = ("birthdays", "planned", "new_clients", "rating", "lost")
CENT = Decimal("0.01")
NOT_CANCELLED = ("scheduled", "confirmed", "completed", "no_show")


def _local(value: Any, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite gives an aggregate's datetime back as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(tz)


def _at_branch(tenant: str, branch: str | None) -> list[Any]:
    if branch is None:
        return []
    return [exists().where(Visit.client_id == Client.id, Visit.tenant == tenant, Visit.status == "completed",
                           Visit.branch == branch)]


def birthdays(conn: Connection, tenant: str, tz: ZoneInfo, start: date, end: date,
              branch: str | None = None) -> list[dict[str, Any]]:
    where: list[Any] = [Client.tenant == tenant, Client.birthday.is_not(None), *_at_branch(tenant, branch)]
    if (end - start).days < 365:
        where.append(month_days(Client.birthday, MonthDays((start.month, start.day), (end.month, end.day)),
                                conn.dialect.name))
    visits, _, last = _client_totals(tenant)
    query = select(Client.id, Client.name, Client.phone, Client.birthday, Client.card_type,
                   visits.label("visits"), last.label("last_visit")).where(*where)
    rows = []
    for r in conn.execute(query):
        for year in range(start.year, end.year + 1):
            on = _birthday_in(r.birthday, year)
            if start <= on <= end:
                last = _local(r.last_visit, tz)
                rows.append({"birthday_on": on, "client_id": r.id, "name": r.name, "phone": r.phone,
                             "birthday": r.birthday, "turns": year - r.birthday.year, "card_type": r.card_type,
                             "visits": int(r.visits), "last_visit": last.date() if last else None})
    return sorted(rows, key=lambda x: (x["birthday_on"], x["name"] or "", x["client_id"]))


def _client_totals(tenant: str) -> tuple[Any, Any, Any]:
    """Correlated (count, spend, last start) of a client's completed visits: index lookups per client, for
    reports that first narrow the clients down (the index ``ix_visits_client_totals`` covers them)."""
    done = (Visit.client_id == Client.id, Visit.tenant == tenant, Visit.status == "completed")
    return (select(func.count()).where(*done).scalar_subquery(),
            select(func.coalesce(func.sum(Visit.total_price), 0)).where(*done).scalar_subquery(),
            select(func.max(Visit.start_at)).where(*done).scalar_subquery())


def _birthday_in(born: date, year: int) -> date:
    try:
        return born.replace(year=year)
    except ValueError:  # 29 February in a common year: celebrated on the 28th
        return date(year, 2, 28)


def planned(conn: Connection, tenant: str, tz: ZoneInfo, language: str, start: date, end: date, today: date,
            branch: str | None = None) -> list[dict[str, Any]]:
    anchor = Visit.__table__.alias("anchor")
    query = (
        select(CycleRow.category, CycleRow.due_at, CycleRow.service, CycleRow.master, CycleRow.task_state,
               Client.id.label("client_id"), Client.name, Client.phone, anchor.c.branch, anchor.c.start_at)
        .join(Client, Client.id == CycleRow.client_id)
        .outerjoin(anchor, and_(anchor.c.client_id == CycleRow.client_id,
                                anchor.c.external_id == CycleRow.anchor_visit_id))
        .where(CycleRow.tenant == tenant, CycleRow.closed_at.is_(None),
               CycleRow.task_state.in_(("open", "restored")),
               CycleRow.due_at >= day_start(start, tz), CycleRow.due_at < day_start(end + timedelta(days=1), tz),
               Client.blacklisted.is_not(True))
        .order_by(CycleRow.category, CycleRow.due_at, Client.name)
    )
    if branch is not None:
        query = query.where(anchor.c.branch == branch)
    rows = []
    for r in conn.execute(query):
        due = _local(r.due_at, tz).date()
        last = _local(r.start_at, tz)
        rows.append({"category": category_label(r.category, language), "due": due, "client_id": r.client_id,
                     "name": r.name, "phone": r.phone, "service": r.service, "master": r.master,
                     "branch": r.branch, "last_visit": last.date() if last else None,
                     "days_overdue": max(0, (today - due).days)})
    return rows


def new_clients(conn: Connection, tenant: str, tz: ZoneInfo, start: date, end: date,
                branch: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(groups by source and reason, the clients) for clients whose first booking lies in the period."""
    since, until = day_start(start, tz), day_start(end + timedelta(days=1), tz)
    booked = Visit.__table__.alias("booked")
    in_period = (select(Visit.client_id).where(Visit.tenant == tenant, Visit.status != "cancelled",
                                               Visit.start_at >= since, Visit.start_at < until,
                                               Visit.client_id.is_not(None)).distinct())
    # statuses listed (not "!= cancelled"), so both look-ups are seeks in ix_visits_client_totals
    earlier = exists().where(booked.c.tenant == tenant, booked.c.status.in_(NOT_CANCELLED),
                             booked.c.client_id == Client.id, booked.c.start_at < since)
    first_at = (select(func.min(booked.c.start_at)).where(booked.c.tenant == tenant,
                                                          booked.c.status.in_(NOT_CANCELLED),
                                                          booked.c.client_id == Client.id).scalar_subquery())
    visits, spend, _ = _client_totals(tenant)
    query = (select(Client.id, Client.name, Client.phone, Client.acquisition, Client.reason,
                    first_at.label("first_at"), visits.label("visits"), spend.label("spend"))
             .where(Client.tenant == tenant, Client.id.in_(in_period), ~earlier, *_at_branch(tenant, branch)))
    clients = []
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sorted(conn.execute(query), key=lambda r: (_local(r.first_at, tz), r.id)):
        source, reason = r.acquisition or "(unknown)", r.reason or "(not given)"
        g = groups.setdefault((source, reason), {"source": source, "reason": reason, "clients": 0, "came": 0,
                                                 "spend": Decimal(0)})
        g["clients"] += 1
        g["came"] += 1 if r.visits else 0
        g["spend"] += Decimal(str(r.spend))
        clients.append({"first_booking": _local(r.first_at, tz).date(), "client_id": r.id, "name": r.name,
                        "phone": r.phone, "source": source, "reason": reason, "visits": int(r.visits),
                        "spend": Decimal(str(r.spend)).quantize(CENT)})
    ordered = sorted(groups.values(), key=lambda g: (-g["clients"], g["source"], g["reason"]))
    for g in ordered:
        g["spend"] = g["spend"].quantize(CENT)
    return ordered, clients


def _rating_totals(dialect: str, tenant: str, since: datetime, until: datetime, branch: str | None) -> Any:
    """Per client with completed visits in the period: visits and spend in it, first and last visit ever
    (up to the period's end). PostgreSQL: one pass with FILTER; SQLite: two passes over the covering
    index in client order, which it runs faster than one pass it cannot serve from the index's order."""
    done = (Visit.tenant == tenant, Visit.status == "completed", Visit.client_id.is_not(None), Visit.start_at < until)
    in_period = Visit.start_at >= since
    if branch is not None:
        in_period = and_(in_period, Visit.branch == branch)
    if dialect == "postgresql":
        visits = func.count().filter(in_period)
        return (select(Visit.client_id, visits.label("visits"),
                       func.coalesce(func.sum(Visit.total_price).filter(in_period), 0).label("spend"),
                       func.min(Visit.start_at).label("first_at"), func.max(Visit.start_at).label("last_at"))
                .where(*done).group_by(Visit.client_id).having(visits > 0).subquery("totals"))
    period = (select(Visit.client_id, func.count().label("visits"),
                     func.coalesce(func.sum(Visit.total_price), 0).label("spend"))
              .where(*done, in_period).group_by(Visit.client_id).subquery("period"))
    ever = (select(Visit.client_id, func.min(Visit.start_at).label("first_at"),
                   func.max(Visit.start_at).label("last_at"))
            .where(*done).group_by(Visit.client_id).subquery("ever"))
    return (select(period.c.client_id, period.c.visits, period.c.spend, ever.c.first_at, ever.c.last_at)
            .join(ever, ever.c.client_id == period.c.client_id).subquery("totals"))


def rating(conn: Connection, tenant: str, tz: ZoneInfo, start: date, end: date, lost_after_days: int,
           branch: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(clients ranked by spend in the period, totals per card type, totals per status).

    Status, the first that applies: blacklisted; lost (last completed visit more than ``lost_after_days``
    before the period's end); new (first completed visit in the period); regular.

    Every client with a visit in the period is a row, so the rows are fetched at once and ranked here:
    PostgreSQL sorted them on disk (beyond ``work_mem``) slower than Python sorts the fetched tuples.
    """
    since, until = day_start(start, tz), day_start(end + timedelta(days=1), tz)
    totals = _rating_totals(conn.dialect.name, tenant, since, until, branch)
    lost_before = day_start(end - timedelta(days=lost_after_days), tz)
    status = case((Client.blacklisted.is_(True), "blacklisted"), (totals.c.last_at < lost_before, "lost"),
                  (totals.c.first_at >= since, "new"), else_="regular")  # in SQL: no per-row time parsing
    query = (select(Client.id, Client.name, Client.phone, Client.card_type, status.label("status"), totals.c.visits,
                    totals.c.spend, totals.c.last_at)
             .join(totals, totals.c.client_id == Client.id)
             .where(Client.tenant == tenant))
    found = [(_money(spend), int(visits), client_id, name, phone, card or "(none)", state, last_at)
             for client_id, name, phone, card, state, visits, spend, last_at in conn.execute(query).all()]
    found.sort(key=lambda r: (-r[0], -r[1], r[2]))
    rows: list[dict[str, Any]] = []
    by_card: dict[str, list[Any]] = {}
    by_status: dict[str, list[Any]] = {}
    for rank, (spend, visits, client_id, name, phone, card, state, last_at) in enumerate(found, start=1):
        rows.append({"rank": rank, "client_id": client_id, "name": name, "phone": phone, "card_type": card,
                     "status": state, "visits": visits, "spend": spend,
                     "average_check": (spend / visits).quantize(CENT), "last_visit": _local(last_at, tz).date()})
        for groups, key in ((by_card, card), (by_status, state)):
            g = groups.get(key)
            if g is None:
                groups[key] = g = [0, 0, Decimal(0)]
            g[0] += 1
            g[1] += visits
            g[2] += spend
    total = sum((g[2] for g in by_card.values()), Decimal(0))

    def summed(groups: dict[str, list[Any]], name: str) -> list[dict[str, Any]]:
        out = [{name: key, "clients": n, "visits": v, "spend": money, "share": float(money / total) if total else 0.0}
               for key, (n, v, money) in groups.items()]
        return sorted(out, key=lambda g: (-g["spend"], g[name]))

    return rows, summed(by_card, "card_type"), summed(by_status, "status")


def _money(value: Any) -> Decimal:
    """A sum to the cent (PostgreSQL gives Decimals, SQLite may give floats)."""
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def lost(conn: Connection, tenant: str, tz: ZoneInfo, as_of: date, lost_after_days: int, branch: str | None,
         branch_names: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(per branch and master: clients whose last visit was there, lost, share; the lost clients)."""
    last = (select(Visit.client_id, func.max(Visit.start_at).label("last_at"))
            .where(Visit.tenant == tenant, Visit.status == "completed", Visit.client_id.is_not(None),
                   Visit.start_at < day_start(as_of + timedelta(days=1), tz))
            .group_by(Visit.client_id).subquery("last"))
    at = Visit.__table__.alias("at_last")  # the last visit itself, for its branch and master
    # clients with a booking still to come: a set (a join made SQLite rescan the list for every client)
    booked = set(conn.scalars(select(Visit.client_id).where(Visit.tenant == tenant, UPCOMING_STATUS,
                                                            Visit.start_at >= day_start(as_of, tz)).distinct()))
    cutoff = day_start(as_of - timedelta(days=lost_after_days), tz)
    query = (select(Client.id, Client.name, Client.phone, at.c.branch, at.c.staff_name, at.c.start_at)
             .select_from(last)
             .join(Client, Client.id == last.c.client_id)
             .join(at, and_(at.c.tenant == tenant, at.c.status == "completed", at.c.client_id == last.c.client_id,
                            at.c.start_at == last.c.last_at))
             .where(Client.tenant == tenant, or_(literal(branch is None), at.c.branch == (branch or "")))
             .order_by(Client.id, at.c.id.desc()))
    groups: dict[tuple[str, str], Counter] = defaultdict(Counter)
    clients = []
    seen: set[int] = set()
    for r in conn.execute(query):
        if r.id in seen:  # two completed visits at the same last moment: the newest row counts
            continue
        seen.add(r.id)
        last = _local(r.start_at, tz)
        where = (branch_names.get(r.branch or "", r.branch or "(none)"), r.staff_name or "(none)")
        groups[where]["clients"] += 1
        if last < cutoff and r.id not in booked:
            groups[where]["lost"] += 1
            clients.append({"branch": where[0], "master": where[1], "client_id": r.id, "name": r.name,
                            "phone": r.phone, "last_visit": last.date(), "days_since": (as_of - last.date()).days})
    rows = [{"branch": b, "master": m, "clients": c["clients"], "active": c["clients"] - c["lost"], "lost": c["lost"],
             "lost_share": c["lost"] / c["clients"]} for (b, m), c in groups.items()]
    rows.sort(key=lambda x: (-x["lost_share"], -x["lost"], x["branch"], x["master"]))
    clients.sort(key=lambda x: (x["branch"], x["master"], -x["days_since"], x["client_id"]))
    return rows, clients
