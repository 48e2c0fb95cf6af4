"""The client reports and segment exports as ``bridge.tables.Table``s: one definition for the command
line (table, JSON, CSV, XLSX) and the JSON API.

``build(name, ...)`` runs one of ``REPORTS`` on a read-only snapshot (``Store.reading``) and returns
its tables, the first being the one CSV exports; ``segment_table`` streams a segment's clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection

from bridge.store import client_reports as store
from bridge.store.clients import run_segment
from bridge.tables import Column, Table
from config.tenants import Tenant
from pipelines.segments import Segment

REPORTS = store.REPORTS
DESCRIPTIONS = {
    "birthdays": "clients whose birthday falls in the period, with the date and the age they turn",
    "planned": "clients due for a repeat visit in the period whose task still waits, per category with the due date",
    "new_clients": "clients whose first booking lies in the period, by acquisition source and reason",
    "rating": "clients ranked by what their completed visits in the period brought, by card type and status",
    "lost": "clients with no completed visit for lost_after_days and nothing booked, by branch and master",
}

DEFAULT_PERIODS = {
    "birthdays": "today to 30 days ahead", "planned": "30 days back to 30 days ahead",
    "new_clients": "the last 30 days", "rating": "the last 365 days",
    "lost": "as of --to (default today); lost_after_days from the tenant file's clients section (default 90)",
}


class ReportError(ValueError):
    """A report that cannot run as asked (unknown name, reversed period, unknown branch)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def period_for(name: str, start: date | None, end: date | None, today: date) -> Period:
    """The period a report covers: the dates given, else its default around today; ReportError if reversed."""
    defaults = {
        "birthdays": (today, today + timedelta(days=30)),
        "planned": (today - timedelta(days=30), today + timedelta(days=30)),
        "new_clients": (today - timedelta(days=30), today),
        "rating": (today - timedelta(days=365), today),
        "lost": (today, today),
    }
    if name not in defaults:
        raise ReportError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    for given in (start, end):
        if given is not None and not EARLIEST <= given <= LATEST:  # days and zones applied later must not overflow
            raise ReportError(f"{given.isoformat()} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}")
    low, high = defaults[name]
    span = high - low
    if name == "lost":  # a point in time: --to (or --from) is the day the report is taken on
        low = high = end or start or today
    elif start and end:
        low, high = start, end
    elif start:
        low, high = start, start + span
    elif end:
        low, high = end - span, end
    if high < low:
        raise ReportError(f"the period is reversed: --to {high.isoformat()} is before --from {low.isoformat()}")
    return Period(low, high)


def branch_id(tenant: Tenant, value: str | None) -> str | None:
    """A branch given by id or name (case-insensitive); ReportError naming the tenant's branches."""
    if value is None:
        return None
    for branch in tenant.branches:
        if value == branch.id or value.casefold() == branch.name.casefold():
            return branch.id
    known = ", ".join(f"{b.id} ({b.name})" for b in tenant.branches)
    raise ReportError(f"unknown branch {value!r}; the tenant has {known}")


C = Column
CLIENT = (C("client_id", "client id", "int"), C("name", "client"), C("phone", "phone", "phone"))


def build(conn: Connection, tenant: Tenant, name: str, period: Period, branch: str | None,
          today: date) -> list[Table]:
    tz, cur = tenant.timezone, tenant.currency
    lost_days = tenant.clients.lost_after_days
    if name == "birthdays":
        rows = store.birthdays(conn, tenant.slug, tz, period.start, period.end, branch)
        return [Table("birthdays", (C("birthday_on", "birthday on", "date"), *CLIENT, C("birthday", "born", "date"),
                                    C("turns", "turns", "int"), C("card_type", "card"), C("visits", "visits", "int"),
                                    C("last_visit", "last visit", "date")), rows)]
    if name == "planned":
        rows = store.planned(conn, tenant.slug, tz, tenant.language, period.start, period.end, today, branch)
        return [Table("planned visits", (C("category", "category"), C("due", "due", "date"), *CLIENT,
                                         C("service", "last service"), C("master", "master"), C("branch", "branch"),
                                         C("last_visit", "last visit", "date"),
                                         C("days_overdue", "days overdue", "int")), rows)]
    if name == "new_clients":
        groups, clients = store.new_clients(conn, tenant.slug, tz, period.start, period.end, branch)
        return [Table("by source and reason", (C("source", "source"), C("reason", "reason"),
                                                           C("clients", "new clients", "int"),
                                                           C("came", "came to a visit", "int"),
                                                           C("spend", "spend", "money")), groups, cur),
                Table("new clients", (C("first_booking", "first booking", "date"), *CLIENT, C("source", "source"),
                                      C("reason", "reason"), C("visits", "visits", "int"),
                                      C("spend", "spend", "money")), clients, cur)]
    if name == "rating":
        rows, by_card, by_status = store.rating(conn, tenant.slug, tz, period.start, period.end, lost_days, branch)
        sums = (C("clients", "clients", "int"), C("visits", "visits", "int"), C("spend", "spend", "money"),
                C("share", "share of spend", "percent"))
        return [Table("client rating", (C("rank", "rank", "int"), *CLIENT, C("card_type", "card"),
                                        C("status", "status"), C("visits", "visits", "int"),
                                        C("spend", "spend", "money"), C("average_check", "average check", "money"),
                                        C("last_visit", "last visit", "date")), rows, cur),
                Table("by card type", (C("card_type", "card"), *sums), by_card, cur),
                Table("by status", (C("status", "status"), *sums), by_status, cur)]
    if name == "lost":
        names = {b.id: b.name for b in tenant.branches}
        groups, clients = store.lost(conn, tenant.slug, tz, period.end, lost_days, branch, names)
        return [Table("by branch and master", (C("branch", "branch"), C("master", "master"),
                                                             C("clients", "clients", "int"),
                                                             C("active", "active", "int"), C("lost", "lost", "int"),
                                                             C("lost_share", "lost share", "percent")), groups),
                Table("lost clients", (C("branch", "branch"), C("master", "master"), *CLIENT,
                                       C("last_visit", "last visit", "date"),
                                       C("days_since", "days since", "int")), clients)]
    raise ReportError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")


SEGMENT_COLUMNS = (*CLIENT, C("email", "email"), C("gender", "gender"), C("birthday", "birthday", "date"),
                   C("card_type", "card"), C("balance", "balance", "money"), C("blacklisted", "blacklisted", "bool"),
                   C("source", "source"), C("reason", "reason"), C("tags", "tags"), C("visits", "visits", "int"),
                   C("spend", "spend", "money"), C("average_check", "average check", "money"),
                   C("last_visit", "last visit", "date"))


def segment_table(conn: Connection, tenant: Tenant, segment: Segment, title: str = "clients") -> Table:
    """The segment's clients, streamed (the rows are a generator: read them once)."""
    def rows() -> Iterator[dict[str, Any]]:
        for row in run_segment(conn, tenant.slug, segment, tenant.timezone):
            yield row.record(tenant.timezone)

    return Table(title, SEGMENT_COLUMNS, rows(), tenant.currency)
