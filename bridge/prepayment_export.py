"""The prepayment report shared by ``salonbridge report prepayments``, the JSON API and the dashboard:
the filters (local days, statuses, a branch by id or name), the rows as plain values (times in the
tenant's zone as ISO 8601, amounts as text, the branch by name, the client's name only — never a phone
or an email), CSV (UTF-8 with a BOM so spreadsheet programs read Cyrillic names) and a typed
``bridge.tables.Table`` for Excel (money as numbers in the currency's format, times as date cells)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bridge.reports import ReportError, branch_id
from bridge.store import prepayments as repo
from bridge.tables import Column, Table
from config.tenants import Tenant
from pipelines.prepayment import PrepaymentStatus

TIMES = ("visit_at", "created_at", "deadline_at", "paid_at", "held_at", "failed_at", "expired_at", "cancelled_at",
         "refunded_at")
COLUMNS = ("order_ref", "booking_id", "attempt", "client", "branch", "rule", "provider", "amount", "currency",
           "status", *TIMES, "receipt_number", "provider_payment_id", "received_amount", "alert")
CLOSED_AT = {"paid": "paid_at", "held": "held_at", "failed": "failed_at", "expired": "expired_at",
             "cancelled": "cancelled_at", "refunded": "refunded_at"}


@dataclass(frozen=True)
class Filters:
    """What the report is limited to: creation time in [since, until), statuses, one branch id."""

    since: datetime | None = None
    until: datetime | None = None
    statuses: tuple[str, ...] = ()
    branch: str | None = None

    def describe(self, tenant: Tenant) -> dict[str, Any]:
        zone = tenant.timezone
        return {"from": self.since.astimezone(zone).date().isoformat() if self.since else None,
                "to": (self.until.astimezone(zone) - timedelta(days=1)).date().isoformat() if self.until else None,
                "statuses": list(self.statuses), "branch": self.branch}


def filters(tenant: Tenant, first: date | None = None, last: date | None = None, statuses: Sequence[str] = (),
            branch: str | None = None) -> Filters:
    """The filters from local days (both included), status names and a branch id or name; ReportError
    naming what is wrong (a reversed period, an unknown status or branch)."""
    if first and last and last < first:
        raise ReportError(f"the period is reversed: to {last.isoformat()} is before from {first.isoformat()}")
    known = [s.value for s in PrepaymentStatus]
    unknown = [s for s in statuses if s not in known]
    if unknown:
        raise ReportError(f"unknown status {unknown[0]!r}; known: {', '.join(known)}")
    since = datetime.combine(first, time(0), tzinfo=tenant.timezone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tenant.timezone) if last else None
    return Filters(since, until, tuple(dict.fromkeys(statuses)), branch_id(tenant, branch))


def rows(session: Session, tenant: Tenant, chosen: Filters) -> list[repo.ReportRow]:
    return repo.report_rows(session, tenant.slug, since=chosen.since, until=chosen.until, statuses=chosen.statuses,
                            branch=chosen.branch)


_KINDS = {"attempt": "int", "amount": "money", "received_amount": "money", **dict.fromkeys(TIMES, "datetime")}
_TITLES = {"order_ref": "order", "booking_id": "booking", "receipt_number": "receipt", "received_amount": "received",
           "provider_payment_id": "provider payment id"}


def table(report: Sequence[repo.ReportRow], tenant: Tenant) -> Table:
    """The rows typed for Excel: money as numbers (the currency's format when every row has the same
    currency), times as the tenant's local date-times, the branch by name."""
    currencies = {r.currency for r in report}
    typed = []
    for r in report:
        row = {name: getattr(r, name) for name in COLUMNS}
        for name in TIMES:
            if row[name] is not None:
                row[name] = row[name].astimezone(tenant.timezone)
        row["branch"] = tenant.branch_name(r.branch) or r.branch
        typed.append(row)
    columns = tuple(Column(name, _TITLES.get(name, name.removesuffix("_at")), _KINDS.get(name, "text"))
                    for name in COLUMNS)
    return Table("prepayments", columns, typed, currencies.pop() if len(currencies) == 1 else "")


def record(row: Any, tenant: Any) -> dict[str, Any]:
    """One report row as plain values: times in the tenant's zone (ISO 8601), amounts as text."""
    out: dict[str, Any] = {}
    for name in COLUMNS:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.astimezone(tenant.timezone).isoformat(timespec="seconds")
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    out["branch"] = tenant.branch_name(row.branch) or row.branch
    return out


def render_csv(records: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return buffer.getvalue().encode("utf-8-sig")
