"""The Reconnect page (expected and at-risk clients per category) and the prepayment report (filters,
status colours, CSV)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Response, abort, render_template, request

from bridge.prepayment_export import CLOSED_AT, record, render_csv
from bridge.store import prepayments as prepayment_repo
from bridge.store.reconnect import scan
from config.tenants import Tenant
from pipelines.catalog import category_label
from pipelines.prepayment import PrepaymentStatus
from webhooks.context import current_services
from webhooks.dashboard.auth import page_language, tenant_page
from webhooks.dashboard.blueprint import bp
from webhooks.dashboard.campaigns import campaigns

STATUS_COLOUR = {"pending": "grey", "failed": "grey", "paid": "green", "held": "amber", "refunded": "grey",
                 "expired": "red", "cancelled": "red"}


@bp.get("/t/<slug>/reconnect")
@tenant_page
def reconnect(tenant: Tenant):
    result = scan(current_services().store, tenant, datetime.now(UTC))
    language = page_language()
    return render_template("dash_reconnect.html", scan=result, o=result.overview,
                           sender=campaigns() is not None, label=lambda c: category_label(c, language))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


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
