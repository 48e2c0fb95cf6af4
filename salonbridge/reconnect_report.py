"""``salonbridge report reconnect``: what Reconnect campaigns brought back (seed 004's performance view).

Reads only the store. A contact is a success when the client made a booking that counts for the
contacted category (a package containing it counts) within the attribution window after the first
message went out; cancelled bookings do not count, a no-show counts as rebooked with no revenue
(``pipelines.reconnect_results``). No phones or emails are shown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from bridge.store.reconnect_results import months_back
from bridge.tables import Column, Table, write_csv, write_xlsx

__all__ = ["months_back", "reconnect_report"]

TITLES = ("contacted", "rebooked", "rate", "revenue", "still to come")


@click.command("reconnect")
@click.argument("tenant")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (local) of the contacts counted. Default: three months before --to.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (local), included. Default: today.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table",
              show_default=True, help="table: for reading; json: totals and every group; csv: one row per group, "
              "UTF-8 with BOM; xlsx: the same rows as a styled Excel sheet (give --output).")
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Write to this file instead of stdout.")
def reconnect_report(tenant: str, date_from: datetime | None, date_to: datetime | None, fmt: str, output: Any) -> None:
    """Reconnect performance of TENANT (the last 3 months by default): clients contacted, rebooked, the rate
    and the revenue of the rebooked visits, in total and per category, channel and branch.

    Rebooked: a booking counting for the contacted category (packages included) made within the
    tenant's reconnect.attribution_window_days (default 30) after the first message; cancelled ones do
    not count, a no-show counts with no revenue; "still to come" are rebooked visits not yet taken
    place (their revenue is not counted yet). Contacts are counted by the day they were made.
    """
    from bridge.store.db import Store
    from bridge.store.reconnect_results import report
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
    last = date_to.date() if date_to else datetime.now(UTC).astimezone(found.timezone).date()
    first = date_from.date() if date_from else months_back(last, 3)
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    start = datetime.combine(first, time(0), tzinfo=found.timezone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=found.timezone)
    store = Store(settings.database_url)
    try:
        result = report(store, found, start, end)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database ({type(exc).__name__}); if it is new or older "
                                   "than this version, run `salonbridge db upgrade`") from exc
    finally:
        store.dispose()
    if fmt == "json":
        output.write((json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    elif fmt in ("csv", "xlsx"):
        table = _results_table(result.rows(), found.currency)
        if fmt == "csv":
            write_csv(table, output)
        else:
            write_xlsx([table], output)
    else:
        output.write((_table(result.to_json(), result.rows(), found.name) + "\n").encode("utf-8"))


COLUMNS = (Column("group", "group"), Column("key", "key"), Column("name", "name"),
           Column("contacted", "contacted", "int"), Column("rebooked", "rebooked", "int"),
           Column("rate", "rate", "percent"), Column("revenue", "revenue", "money"),
           Column("pending_revenue", "still to come", "money"))


def _results_table(rows: list[dict[str, Any]], currency: str) -> Table:
    """One row per group (total, each category, channel, branch), typed for CSV and Excel."""
    typed = [{**row, **{k: Decimal(str(row[k])) for k in ("rate", "revenue", "pending_revenue")}} for row in rows]
    return Table("Reconnect results", COLUMNS, typed, currency)


def _table(data: dict[str, Any], rows: list[dict[str, Any]], salon: str) -> str:
    lines = [f"Reconnect results: {salon}, contacts from {data['from']} to {data['to']} (rebooked within "
             f"{data['window_days']} days of the first message; revenue in {data['currency']})"]
    if data["not_sent"]:
        lines.append(f"not counted: {data['not_sent']} contact(s) whose first message has not gone out")
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            lines += ["", f"{'by ' + group if group != 'total' else 'total':<24}" + "".join(f"{t:>14}" for t in TITLES)]
        figures = [str(row["contacted"]), str(row["rebooked"]), f"{float(row['rate']) * 100:.1f} %",
                   str(row["revenue"]), str(row["pending_revenue"])]
        lines.append(f"  {str(row['name'])[:22]:<22}" + "".join(f"{f:>14}" for f in figures))
    return "\n".join(lines)
