"""The Reconnect page (expected and at-risk clients per category, the last 3 months' results with a chart)
and the prepayment report (filters, status colours, CSV and XLSX)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import Response, abort, render_template, request

from bridge.prepayment_export import CLOSED_AT, COLUMNS, TIMES, record, render_csv
from bridge.reports import EARLIEST, LATEST
from bridge.store import prepayments as prepayment_repo
from bridge.store.reconnect import scan
from bridge.tables import Column, Table, write_xlsx
from config.tenants import Tenant
from pipelines.catalog import category_label
from pipelines.prepayment import PrepaymentStatus
from webhooks.context import current_services
from webhooks.dashboard import reconnect_chart
from webhooks.dashboard.auth import page_language, tenant_page
from webhooks.dashboard.blueprint import bp
from webhooks.dashboard.campaigns import campaigns

STATUS_COLOUR = {"pending": "grey", "failed": "grey", "paid": "green", "held": "amber", "refunded": "grey",
                 "expired": "red", "cancelled": "red"}


@bp.get("/t/<slug>/reconnect")
@tenant_page
def reconnect(tenant: Tenant):
    store, now = current_services().store, datetime.now(UTC)
    result = scan(store, tenant, now)
    spans, performance = reconnect_chart.results(store, tenant, now.astimezone(tenant.timezone).date())
    language = page_language()
    return render_template("dash_reconnect.html", scan=result, o=result.overview,
                           sender=campaigns() is not None, label=lambda c: category_label(c, language),
                           spans=spans, performance=performance, chart=lambda c: reconnect_chart.chart(c, spans))


def _day(value: str | None) -> date | None:
    """A filter's date; ValueError also for one at the calendar's ends (the zone applied to it would overflow)."""
    day = date.fromisoformat(value) if value else None
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ValueError(value)
    return day


def _filters(tenant: Tenant) -> dict:
    """The report's filters from the query string; ``bad`` when a date could not be read."""
    args = request.args
    statuses = [s for s in args.getlist("status") if s in {p.value for p in PrepaymentStatus}]
    branch = args.get("branch") or None
    if branch is not None and branch not in {b.id for b in tenant.branches}:
        branch = None
    try:
        first, last = _day(args.get("from")), _day(args.get("to"))
    except ValueError:
        first = last = None
        bad = True
    else:
        bad = False
    return {"from": first, "to": last, "statuses": statuses, "branch": branch, "bad": bad}


def _records(tenant: Tenant, f: dict) -> list[dict]:
    zone = tenant.timezone
    since = datetime.combine(f["from"], time(0), tzinfo=zone) if f["from"] else None
    until = datetime.combine(f["to"] + timedelta(days=1), time(0), tzinfo=zone) if f["to"] else None
    with current_services().store.session() as s:
        rows = prepayment_repo.report_rows(s, tenant.slug, since=since, until=until, statuses=f["statuses"],
                                           branch=f["branch"])
    return [record(r, tenant) for r in rows]


@bp.get("/t/<slug>/prepayments")
@tenant_page
def prepayments(tenant: Tenant):
    f = _filters(tenant)
    records = _records(tenant, f)
    for r in records:
        closed = r.get(CLOSED_AT.get(r["status"], ""))
        r["closed"] = closed[:16].replace("T", " ") if closed else ""
        r["created"] = r["created_at"][:16].replace("T", " ")
        r["deadline"] = r["deadline_at"][:16].replace("T", " ")
    return render_template("dash_prepayments.html", records=records, f=f, colour=STATUS_COLOUR,
                           statuses=[s.value for s in PrepaymentStatus])


@bp.get("/t/<slug>/prepayments.csv")
@tenant_page
def prepayments_csv(tenant: Tenant):
    f = _filters(tenant)
    if f["bad"]:
        abort(400)
    body = render_csv(_records(tenant, f))
    name = f"prepayments-{tenant.slug}-{datetime.now(tenant.timezone):%Y%m%d}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_KINDS = {**dict.fromkeys(TIMES, "datetime"), "amount": "money", "received_amount": "money", "attempt": "int"}


def prepayment_table(records: list[dict], tenant: Tenant) -> Table:
    """The CSV's columns as a typed sheet: times as local date-times, amounts as money in the salon's currency."""
    def typed(key: str, value: Any) -> Any:
        if value in (None, ""):
            return None
        kind = _KINDS.get(key)
        if kind == "datetime":
            return datetime.fromisoformat(value)
        return Decimal(value) if kind == "money" else value

    rows = [{k: typed(k, r.get(k)) for k in COLUMNS} for r in records]
    return Table("prepayments", tuple(Column(k, k, _KINDS.get(k, "text")) for k in COLUMNS), rows, tenant.currency)


@bp.get("/t/<slug>/prepayments.xlsx")
@tenant_page
def prepayments_xlsx(tenant: Tenant):
    f = _filters(tenant)
    if f["bad"]:
        abort(400)
    out = io.BytesIO()
    write_xlsx([prepayment_table(_records(tenant, f), tenant)], out)
    name = f"prepayments-{tenant.slug}-{datetime.now(tenant.timezone):%Y%m%d}.xlsx"
    return Response(out.getvalue(), mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
