"""The client base: search (name, id, phone or email), the client card, and the segment builder.

The builder is a GET form over the filters of ``pipelines.segments`` (the CLI's and the API's): its
answer shows the count, the first clients and CSV/XLSX downloads of the whole segment. A little script
(``static/segment.js``) asks ``clients/count`` for the count as the filters are typed; without it the
form still works. Exports are streamed from a read-only snapshot, so a large segment never sits in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from flask import Response, abort, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.booking.phones import normalize_email, to_e164
from bridge.reports import segment_table
from bridge.store import clients as repo
from bridge.store import insights
from bridge.tables import csv_lines, text_value, write_xlsx
from config.segment_filters import SEGMENT_FILTERS
from config.tenants import Tenant
from pipelines.segments import GENDERS, Segment, SegmentError, combine, parse_segment
from webhooks.context import current_services
from webhooks.dashboard.auth import tenant_page
from webhooks.dashboard.blueprint import bp

SHOWN = 50  # clients listed under the builder; the downloads have them all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREVIEW = ("client_id", "name", "phone", "card_type", "visits", "spend", "last_visit", "tags")
# filters given as a choice rather than typed text
CHOICES = {"gender": GENDERS, "blacklisted": ("yes", "no")}
HINTS = {"birthday": "MM-DD..MM-DD", "balance": "MIN..MAX", "last_visit": "YYYY-MM-DD..YYYY-MM-DD",
         "spend": "MIN..MAX", "visits": "MIN..MAX"}


def chosen_filters() -> dict[str, str]:
    """The builder's filters from the query string (empty ones left out)."""
    return {name: value.strip() for name in SEGMENT_FILTERS if (value := request.args.get(name, "")).strip()}


def chosen_segment(tenant: Tenant) -> Segment:
    """The saved segment asked for (if any) narrowed by the typed filters; SegmentError names what is wrong."""
    saved = request.args.get("segment") or ""
    base = []
    if saved:
        if saved not in tenant.clients.segments:
            raise SegmentError("segment", f"no saved segment {saved!r}")
        base.append(parse_segment(tenant.clients.segments[saved]))
    return combine(*base, parse_segment(chosen_filters()))


def search(tenant: Tenant, query: str) -> list[tuple[int, str | None]]:
    """Clients by name or id, or the one with this phone or email."""
    email = normalize_email(query) if "@" in query else None
    phone = None if email else to_e164(query, tenant.country)
    if not (email or phone) or query.isdigit() and len(query) < 7:
        return insights.find_clients(current_services().store, tenant.slug, query)
    with current_services().store.session() as s:
        found = repo.find(s, tenant.slug, email or phone or "")
        return [(found.id, found.name)] if found else []


@bp.get("/t/<slug>/clients")
@tenant_page
def clients(tenant: Tenant):
    query = request.args.get("q", "").strip()[:100]
    filters, saved = chosen_filters(), request.args.get("segment") or ""
    asked = bool(filters or saved)
    count, rows, error = None, [], ""
    if asked:
        try:
            segment = chosen_segment(tenant)
            with current_services().store.reading() as conn:
                count = repo.count_segment(conn, tenant.slug, segment, tenant.timezone)
                table = segment_table(conn, tenant, segment)
                rows = list(islice(table.rows, SHOWN))
        except SegmentError as exc:
            error = str(exc)
    shown = [c for c in table.columns if c.key in PREVIEW] if rows else []
    return render_template(
        "dash_clients.html", query=query, found=search(tenant, query) if query else None, filters=filters,
        saved=saved, asked=asked, count=count, rows=rows, columns=shown, error=error, names=list(SEGMENT_FILTERS),
        choices=CHOICES, hints=HINTS, currency=tenant.currency, text_value=text_value,
        saved_segments=sorted(tenant.clients.segments),
    )


@bp.get("/t/<slug>/clients/count")
@tenant_page
def segment_count(tenant: Tenant):
    """The live count of the builder: ``{"count": n}``, or ``{"error": ...}`` (400) naming the filter."""
    try:
        segment = chosen_segment(tenant)
        with current_services().store.reading() as conn:
            count = repo.count_segment(conn, tenant.slug, segment, tenant.timezone)
    except SegmentError as exc:
        return jsonify(error=str(exc), filter=exc.name), 400
    except SQLAlchemyError:
        return jsonify(error="storage unavailable, retry later"), 503
    return jsonify(count=count, filters=segment.describe())


@bp.get("/t/<slug>/clients/segment.<any(csv, xlsx):fmt>")
@tenant_page
def segment_export(tenant: Tenant, fmt: str):
    try:
        segment = chosen_segment(tenant)
    except SegmentError:
        abort(400)
    store = current_services().store
    name = f"clients-{tenant.slug}-{datetime.now(tenant.timezone):%Y%m%d}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "xlsx":
        out = io.BytesIO()
        with store.reading() as conn:
            write_xlsx([segment_table(conn, tenant, segment)], out)
        return Response(out.getvalue(), mimetype=XLSX, headers=headers)

    def body() -> Iterator[bytes]:
        with store.reading() as conn:
            yield from csv_lines(segment_table(conn, tenant, segment))

    return Response(body(), mimetype="text/csv", headers=headers)


@bp.get("/t/<slug>/clients/<int:client_id>")
@tenant_page
def client_card(tenant: Tenant, client_id: int):
    with current_services().store.session() as s:
        client = repo.find(s, tenant.slug, str(client_id))
        if client is None:
            abort(404)
        card = repo.card(s, client, tenant.timezone)
    branches = {b.id: b.name for b in tenant.branches}
    return render_template("dash_client_card.html", card=card, branches=branches, currency=tenant.currency)
