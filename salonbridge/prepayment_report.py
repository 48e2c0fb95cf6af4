"""``salonbridge report prepayments``: every prepayment attempt with its status and times.

Reads only the store (no Redis, no provider): dates are the tenant's local dates, times are shown in
its time zone, CSV is UTF-8 with a BOM so spreadsheet programs read Cyrillic names correctly. Client
names are shown; phones and emails never are.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from bridge.prepayment_export import CLOSED_AT, COLUMNS, TIMES, record, render_csv  # noqa: F401 (re-exported)
from pipelines.prepayment import PrepaymentStatus

TABLE = (("order", "order_ref"), ("booking", "booking_id"), ("client", "client"), ("branch", "branch"),
         ("amount", "amount"), ("status", "status"), ("created", "created_at"), ("deadline", "deadline_at"),
         ("closed", "closed_at"), ("receipt", "receipt_number"))
_CLOSED = CLOSED_AT


def _local_day_start(day: date, tenant: Any) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tenant.timezone)


def _branch_id(tenant: Any, value: str | None) -> str | None:
    """A branch given by id or by name (case-insensitive)."""
    if value is None:
        return None
    for branch in tenant.branches:
        if value == branch.id or value.casefold() == branch.name.casefold():
            return branch.id
    known = ", ".join(f"{b.id} ({b.name})" for b in tenant.branches)
    raise click.BadParameter(f"unknown branch {value!r}; the tenant has {known}", param_hint="--branch")


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text[:16].replace("T", " ") if len(text) >= 19 and text[10] == "T" else text


def render_table(records: list[dict[str, Any]]) -> str:
    rows = [[h for h, _ in TABLE]]
    for r in records:
        closed = r.get(_CLOSED.get(r["status"], ""), None)
        values = {**r, "amount": f"{r['amount']} {r['currency']}", "closed_at": closed, "client": r["client"] or ""}
        rows.append([_short(values[key]) for _, key in TABLE])
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def summary(records: list[dict[str, Any]]) -> str:
    by_status = Counter(r["status"] for r in records)
    paid: dict[str, Decimal] = {}
    for r in records:
        if r["status"] == "paid":
            paid[r["currency"]] = paid.get(r["currency"], Decimal(0)) + Decimal(r["amount"])
    parts = [f"{len(records)} prepayment(s)"] + [f"{status} {n}" for status, n in sorted(by_status.items())]
    money = ", ".join(f"{total} {currency}" for currency, total in sorted(paid.items()))
    return ", ".join(parts) + (f"; paid in total {money}" if money else "")


@click.command("prepayments")
@click.argument("tenant")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day (local), by creation date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (local), included.")
@click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in PrepaymentStatus]),
              help="Only these statuses (repeat the option for several).")
@click.option("--branch", help="Only this branch (its id or name).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Write to this file instead of stdout.")
def prepayments(tenant: str, date_from: datetime | None, date_to: datetime | None, statuses: tuple[str, ...],
                branch: str | None, fmt: str, output: Any) -> None:
    """Every prepayment of TENANT, newest first: order reference, booking, client, amount, provider, status
    and the time of each status. Statuses: pending (link sent), failed (a payment was declined, the link
    still works), paid, held (money arrived but was not accepted automatically: staff decide), expired
    (not paid by the deadline), cancelled (the booking was cancelled unpaid), refunded."""
    from bridge.store import prepayments as repo
    from bridge.store.db import Store
    from bridge.tenancy import load_tenants
    from config.tenants import TenantFileError
    from salonbridge.cli import _settings

    settings = _settings()
    try:
        tenants = load_tenants(settings.tenants_dir, settings.environ)
    except TenantFileError as exc:
        raise click.ClickException(f"invalid tenant files (run `salonbridge check`):\n{exc}") from exc
    found = tenants.get(tenant)
    if found is None:
        raise click.ClickException(f"unknown tenant {tenant!r} (tenant files in {settings.tenants_dir}: "
                                   f"{', '.join(sorted(tenants)) or 'none'})")
    if date_from and date_to and date_to < date_from:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    since = _local_day_start(date_from.date(), found) if date_from else None
    until = _local_day_start(date_to.date() + timedelta(days=1), found) if date_to else None
    branch_id = _branch_id(found, branch)
    store = Store(settings.database_url)
    try:
        with store.session() as s:
            rows = repo.report_rows(s, found.slug, since=since, until=until, statuses=statuses, branch=branch_id)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database ({type(exc).__name__}); if it is new or older "
                                   "than this version, run `salonbridge db upgrade`") from exc
    finally:
        store.dispose()
    records = [record(r, found) for r in rows]
    if fmt == "json":
        output.write((json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    elif fmt == "csv":
        output.write(render_csv(records))
    else:
        text = render_table(records) + "\n" if records else ""
        output.write((text + summary(records) + "\n").encode("utf-8"))
