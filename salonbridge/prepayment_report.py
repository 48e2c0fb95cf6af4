"""``salonbridge report prepayments``: every prepayment attempt with its status and times.

Reads only the store (no Redis, no provider): dates are the tenant's local dates, times are shown in
its time zone, CSV is UTF-8 with a BOM so spreadsheet programs read Cyrillic names correctly, XLSX has
money as numbers and times as date cells (``bridge.tables``). Client names are shown; phones and emails
never are. The filters and rows are ``bridge.prepayment_export``'s, shared with the JSON API.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from bridge.prepayment_export import CLOSED_AT, COLUMNS, TIMES, record, render_csv  # noqa: F401 (re-exported)
from bridge.tables import write_xlsx
from pipelines.prepayment import PrepaymentStatus

TABLE = (("order", "order_ref"), ("booking", "booking_id"), ("client", "client"), ("branch", "branch"),
         ("amount", "amount"), ("status", "status"), ("created", "created_at"), ("deadline", "deadline_at"),
         ("closed", "closed_at"), ("receipt", "receipt_number"))
_CLOSED = CLOSED_AT


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
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table",
              show_default=True, help="table: for reading; json: every column; csv: UTF-8 with a BOM; xlsx: an "
              "Excel sheet with money as numbers and times as dates (give --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
def prepayments(tenant: str, date_from: datetime | None, date_to: datetime | None, statuses: tuple[str, ...],
                branch: str | None, fmt: str, output: Path | None) -> None:
    """Every prepayment of TENANT, newest first: order reference, booking, client, amount, provider, status
    and the time of each status. Statuses: pending (link sent), failed (a payment was declined, the link
    still works), paid, held (money arrived but was not accepted automatically: staff decide), expired
    (not paid by the deadline), cancelled (the booking was cancelled unpaid), refunded."""
    from bridge import prepayment_export as export
    from bridge.reports import ReportError
    from salonbridge.client_cmds import opened

    if date_from and date_to and date_to < date_from:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise click.UsageError("--format xlsx writes a binary workbook: give --output FILE.xlsx")
    with opened(tenant) as (found, store):
        try:
            chosen = export.filters(found, date_from.date() if date_from else None,
                                    date_to.date() if date_to else None, statuses, branch)
        except ReportError as exc:
            raise click.BadParameter(str(exc), param_hint="--branch") from exc
        with store.session() as s:
            rows = export.rows(s, found, chosen)
    if fmt == "xlsx":
        written = write_xlsx([export.table(rows, found)], str(output) if output else sys.stdout.buffer)
        if output:
            click.echo(f"{written['prepayments']} row(s) → {output}", err=True)
        return
    records = [record(r, found) for r in rows]
    if fmt == "json":
        body = (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif fmt == "csv":
        body = render_csv(records)
    else:
        text = render_table(records) + "\n" if records else ""
        body = (text + summary(records) + "\n").encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        output.write_bytes(body)
