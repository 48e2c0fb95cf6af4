"""Reconnect results over the store: the contacts of a period, what their first message did, their rebookings.

Three queries per period whatever the number of contacts (plus one per 500 clients for their
bookings): the contacts made in the period, the first messages that actually went out (a contact whose
messages were all held back, skipped or failed was not contacted), and the contacted clients' bookings
made since the earliest first message. ``pipelines.reconnect_results`` decides success and adds up.

A booking's ``booked_at`` is when salonbridge first stored it (``visits.created_at``): the booking
system's own creation time is not kept, and webhooks arrive within seconds of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bridge.store.db import Store
from bridge.store.models import MessageRow, ReconnectContactRow, Visit
from config.tenants import Tenant
from pipelines.catalog import category_label
from pipelines.events import BookingStatus, jsonable
from pipelines.reconnect import ClientBooking
from pipelines.reconnect_results import RESULT_NAMES, Contacted, Results, rebooking, tally

CHUNK = 500


@dataclass(frozen=True)
class Report:
    tenant: Tenant
    start: datetime  # inclusive
    end: datetime  # exclusive
    contacts: tuple[Contacted, ...]
    not_sent: int  # contacts of the period whose first message has not gone out (held, skipped, failed)
    results: Results

    def to_json(self) -> dict[str, Any]:
        lang, r = self.tenant.language, self.results
        tz = self.tenant.timezone
        return jsonable({
            "tenant": self.tenant.slug, "currency": self.tenant.currency,
            "from": self.start.astimezone(tz).date(), "to": (self.end.astimezone(tz) - timedelta(days=1)).date(),
            "window_days": self.tenant.reconnect.attribution_window_days, "not_sent": self.not_sent,
            "total": r.total,
            "categories": [{"category": k, "label": category_label(k, lang), **v} for k, v in r.by_category.items()],
            "channels": [{"channel": k, **v} for k, v in r.by_channel.items()],
            "branches": [{"branch": k, "name": self.tenant.branch_name(k), **v} for k, v in r.by_branch.items()],
        })

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per group (for CSV and spreadsheets): group, key, name and the figures."""
        data = self.to_json()
        out = [{"group": "total", "key": "", "name": "total", **{n: data["total"][n] for n in RESULT_NAMES}}]
        for group, key, name in (("categories", "category", "label"), ("channels", "channel", "channel"),
                                 ("branches", "branch", "name")):
            for row in data[group]:
                out.append({"group": key, "key": row[key] or "", "name": row[name] or row[key] or "",
                            **{n: row[n] for n in RESULT_NAMES}})
        return out


def report(store: Store, tenant: Tenant, start: datetime, end: datetime) -> Report:
    window = tenant.reconnect.attribution_window_days
    with store.reading() as conn:
        contacts = conn.execute(
            select(ReconnectContactRow.client_id, ReconnectContactRow.category, ReconnectContactRow.branch,
                   ReconnectContactRow.message_keys)
            .where(ReconnectContactRow.tenant == tenant.slug, ReconnectContactRow.contacted_at >= start,
                   ReconnectContactRow.contacted_at < end)
            .order_by(ReconnectContactRow.id)
        ).all()
        keys = [k for c in contacts for k in (c.message_keys or ())]
        sent: dict[str, tuple[str, datetime]] = {}
        for chunk in _chunks(keys):
            sent.update((key, (channel, at)) for key, channel, at in conn.execute(
                select(MessageRow.key, MessageRow.channel, MessageRow.sent_at).where(
                    MessageRow.tenant == tenant.slug, MessageRow.key.in_(chunk), MessageRow.state == "sent")))
        firsts = [min((sent[k][1] for k in c.message_keys or () if k in sent), default=None) for c in contacts]
        since = min((f for f in firsts if f is not None), default=None)
        bookings: dict[int, list[ClientBooking]] = defaultdict(list)
        clients = sorted({c.client_id for c, f in zip(contacts, firsts, strict=True) if f is not None})
        for chunk in _chunks(clients):
            rows = conn.execute(
                select(Visit.client_id, Visit.external_id, Visit.status, Visit.start_at, Visit.categories,
                       Visit.total_price, Visit.created_at, Visit.branch)
                .where(Visit.tenant == tenant.slug, Visit.client_id.in_(chunk), Visit.created_at >= since))
            for r in rows:
                bookings[r.client_id].append(ClientBooking(
                    r.external_id, r.client_id, BookingStatus(r.status), r.start_at, tuple(r.categories or ()),
                    r.branch, r.total_price, r.created_at))
    out, not_sent = [], 0
    for c, first in zip(contacts, firsts, strict=True):
        if first is None:
            not_sent += 1
            continue
        channel = "+".join(sorted({sent[k][0] or "?" for k in c.message_keys if k in sent}))
        found = rebooking(bookings.get(c.client_id, ()), c.category, first, window)
        out.append(Contacted(c.client_id, c.category, c.branch, channel, first, found))
    return Report(tenant, start, end, tuple(out), not_sent, tally(out))


def months_back(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _chunks(items: list) -> list[list]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
