"""The five client reports (``bridge.reports``: the CLI's and the API's tables) as pages, with CSV and XLSX.

A report page shows each of its tables (the first ``SHOWN`` rows, phones masked as in a terminal) for
the period and branch chosen, defaulting as the CLI does. CSV is the first table (as ``--format csv``),
XLSX every table as a sheet of one workbook (as ``--format xlsx``), both with every row.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from flask import Response, abort, render_template, request

from bridge.reports import REPORTS, Period, ReportError, branch_id, build, period_for
from bridge.tables import csv_lines, text_value, write_xlsx
from config.tenants import Tenant
from webhooks.context import current_services
from webhooks.dashboard.auth import tenant_page
from webhooks.dashboard.blueprint import bp
from webhooks.query_args import day_arg

SHOWN = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def chosen(tenant: Tenant, name: str) -> tuple[Period, str | None, date]:
    """The period (the report's default around today unless given), the branch id and today."""
    if name not in REPORTS:
        abort(404)
    today = datetime.now(tenant.timezone).date()
    branch = branch_id(tenant, request.args.get("branch") or None)
    return period_for(name, day_arg("from"), day_arg("to"), today), branch, today


@bp.get("/t/<slug>/reports")
@tenant_page
def reports(tenant: Tenant):
    return render_template("dash_reports.html", names=REPORTS, name=None, lost_days=tenant.clients.lost_after_days)


@bp.get("/t/<slug>/reports/<name>")
@tenant_page
def report(tenant: Tenant, name: str):
    error, tables = "", []
    try:
        period, branch, today = chosen(tenant, name)
    except ReportError as exc:
        error, period, branch = str(exc), None, None
    if not error:
        with current_services().store.reading() as conn:
            for table in build(conn, tenant, name, period, branch, today):
                rows = list(table.rows)
                tables.append((table, rows[:SHOWN], len(rows)))
    return render_template("dash_reports.html", names=REPORTS, name=name, period=period, branch=branch,
                           tables=tables, error=error, text_value=text_value, currency=tenant.currency,
                           lost_days=tenant.clients.lost_after_days)


@bp.get("/t/<slug>/reports/<name>.<any(csv, xlsx):fmt>")
@tenant_page
def report_export(tenant: Tenant, name: str, fmt: str):
    try:
        period, branch, today = chosen(tenant, name)
    except ReportError:
        abort(400)
    store = current_services().store
    filename = f"{name}-{tenant.slug}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "xlsx":
        out = io.BytesIO()
        with store.reading() as conn:
            write_xlsx(build(conn, tenant, name, period, branch, today), out)
        return Response(out.getvalue(), mimetype=XLSX, headers=headers)
    with store.reading() as conn:
        body = b"".join(csv_lines(build(conn, tenant, name, period, branch, today)[0]))
    return Response(body, mimetype="text/csv", headers=headers)
