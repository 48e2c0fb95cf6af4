"""Reconnect over the store: who is at risk, per category and branch, in four queries whatever the size.

The rules are ``pipelines.reconnect``; this module only feeds them. One read-only snapshot
(``Store.reading``, which holds up no writer) runs: the tenant's clients (to count the records of one
person once), the clients with a booking still to come, the services seen under each category (to
follow categories renamed in the booking system), and one stream of every completed visit. The stream
goes through the driver's own cursor: SQLAlchemy's result layer adds about 0.7 s per million rows,
a fifth of the whole scan (bench/reconnect.py).
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, Select, Text, cast, extract, func, select

from bridge.store.db import Store
from bridge.store.models import UPCOMING_STATUS, Client, Visit, VisitService
from config.tenants import Tenant
from pipelines import category_renames as renames
from pipelines.catalog import CatalogOverrides, canonical_category, category_days, category_label
from pipelines.events import BookingStatus, jsonable
from pipelines.policy import Policy
from pipelines.reconnect import COUNT_NAMES, Assessment, Overview, Tracker, assess_all, at_risk, overview, same_people

log = logging.getLogger(__name__)
STREAM_BATCH = 10_000


class UnknownFilter(ValueError):
    """A category or branch the tenant does not have; ``known`` lists what it has."""

    def __init__(self, what: str, name: str, known: list[str]) -> None:
        self.what, self.name, self.known = what, name, known
        super().__init__(f"unknown {what} {name!r}; known: {', '.join(known) or '(none yet)'}")


@dataclass(frozen=True)
class Contact:
    name: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class ClientAtRisk:
    client_id: int
    contact: Contact
    assessment: Assessment


@dataclass(frozen=True)
class Scan:
    """What the CLI and the API show: the overview and the clients to contact."""

    tenant: Tenant
    now: datetime
    category: str | None  # the filter, canonical
    branch: str | None
    categories: tuple[str, ...]  # every category the salon has (configured or seen in visits)
    overview: Overview
    clients: tuple[ClientAtRisk, ...]

    def label(self, category: str) -> str:
        return category_label(category, self.tenant.language)

    def overview_json(self) -> dict[str, Any]:
        o = self.overview
        zero = dict.fromkeys(COUNT_NAMES, 0)
        shown = [self.category] if self.category else self.categories
        return {
            "tenant": self.tenant.slug, "today": o.today.isoformat(), "week_end": o.week_end.isoformat(),
            "month_end": o.month_end.isoformat(), "tolerance_days": self.tenant.reconnect.tolerance_days,
            "filters": {"category": self.category, "branch": self.branch},
            "total": o.total,
            "categories": [{"category": c, "label": self.label(c), **o.by_category.get(c, zero)} for c in shown],
            "branches": [{"branch": b, "name": self.tenant.branch_name(b), **n} for b, n in o.by_branch.items()],
        }

    def client_rows(self) -> list[dict[str, Any]]:
        rows = []
        for c in self.clients:
            a, h = c.assessment, c.assessment.history
            rows.append({
                "client_id": c.client_id, "name": c.contact.name, "phone": c.contact.phone,
                "email": c.contact.email, "category": h.category, "category_label": self.label(h.category),
                "branch": h.branch, "branch_name": self.tenant.branch_name(h.branch),
                "last_visit": h.last_visit, "interval_days": a.interval_days, "interval_source": a.source,
                "expected": a.expected, "days_late": a.days_late,
            })
        return jsonable(rows)

    def clients_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant.slug, "today": self.overview.today.isoformat(),
                "filters": {"category": self.category, "branch": self.branch}, "clients": self.client_rows()}


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A scan keeps ~a million objects alive and makes no reference cycles; the cyclic collector would
    walk them over and over as they pile up (a quarter of the scan's time in bench/reconnect.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


Chooser = Callable[[list[Assessment]], list[Assessment]]


def scan(store: Store, tenant: Tenant, now: datetime, *, category: str | None = None,
         branch: str | None = None, choose: Chooser = at_risk) -> Scan:
    """The tenant's Reconnect standing at ``now``; raises UnknownFilter for a category or branch it lacks.

    ``choose`` picks the clients listed (default: the at-risk ones, most overdue first).
    """
    with _no_cycle_collection():
        return _scan(store, tenant, now, category, branch, choose)


def _scan(store: Store, tenant: Tenant, now: datetime, category: str | None, branch: str | None,
          choose: Chooser) -> Scan:
    started = time.monotonic()
    policy = Policy(tenant.slug, timezone=tenant.timezone,
                    catalog=CatalogOverrides.build(tenant.catalog.categories, {}))
    tracker = Tracker(tenant.timezone, now)
    with store.reading() as conn:
        contacts = _clients(conn, tenant.slug)
        for client_id in conn.scalars(_upcoming(tenant.slug, now)):
            tracker.upcoming(client_id)
        visits = _fold_visits(conn, tenant.slug, tracker)
        renamed = _renamed_categories(conn, tenant.slug)
    tracker.merge(_same_people(contacts, tenant.slug), renamed)
    today = now.astimezone(tenant.timezone).date()
    assessments = assess_all(tracker, lambda c: category_days(c, policy), today, tenant.reconnect.tolerance_days)
    categories = tuple(sorted(tracker.categories() | set(policy.catalog.categories),
                              key=lambda c: category_label(c, tenant.language)))
    chosen = _category_filter(category, categories, tenant.language)
    chosen_branch = _branch_filter(branch, tenant, {a.history.branch for a in assessments})
    picked = [a for a in assessments if (chosen is None or a.history.category == chosen)
              and (chosen_branch is None or a.history.branch == chosen_branch)]
    rows = tuple(ClientAtRisk(a.history.ref, Contact(*contacts.get(a.history.ref, (None, None, None))), a)
                 for a in choose(picked))
    result = Scan(tenant, now, chosen, chosen_branch, categories, overview(picked, today), rows)
    log.info("reconnect scan of %s: %d completed visits, %d clients tracked, %d at risk, %.2f s", tenant.slug,
             visits, result.overview.total["tracked"], result.overview.total["at_risk"], time.monotonic() - started)
    return result


def _clients(conn: Connection, tenant: str) -> dict[int, tuple[str | None, str | None, str | None]]:
    """Every client's (name, phone, email) by id; plain tuples (Contact's fields): there are 100,000 of them."""
    rows = conn.execute(select(Client.id, Client.name, Client.phone, Client.email).where(Client.tenant == tenant))
    return {cid: contact for cid, *contact in rows}


def _same_people(contacts: dict[int, Any], tenant: str) -> dict[int, int]:
    """Records of one person (sharing a phone or email, e.g. merged in the booking system) -> one client id."""
    mapping = same_people((cid, phone, email) for cid, (_, phone, email) in contacts.items())
    if mapping:
        log.info("reconnect %s: %d client records belong to a person with another record (merged in the booking "
                 "system or sharing a phone or email); each person is counted once", tenant, len(mapping))
    return mapping


def _upcoming(tenant: str, now: datetime) -> Select:
    return select(Visit.client_id).distinct().where(
        Visit.tenant == tenant, UPCOMING_STATUS, Visit.start_at >= now, Visit.client_id.is_not(None))


def _renamed_categories(conn: Connection, tenant: str) -> dict[str, str]:
    """Old category -> current one, from the services recorded under each (line ids give the order).

    Only services ever recorded under two category names can show a rename; finding them reads one
    index, so the common case (none) costs a fraction of a second even for a million visits.
    """
    line = VisitService
    movers = (select(line.external_id).where(line.category.is_not(None)).group_by(line.external_id)
              .having(func.min(line.category) != func.max(line.category)))
    rows = conn.execute(
        select(VisitService.external_id, VisitService.category, func.min(VisitService.id), func.max(VisitService.id))
        .join(Visit, Visit.id == VisitService.visit_id)
        .where(Visit.tenant == tenant, VisitService.category.is_not(None), VisitService.external_id.in_(movers))
        .group_by(VisitService.external_id, VisitService.category)
    )
    merged: dict[tuple[str, str], list[int]] = {}
    for service, raw, first, last in rows:
        key = canonical_category(raw)
        if key:
            span = merged.setdefault((service, key), [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)
    found = renames.detect_renames(renames.ServiceSeen(s, c, f, la) for (s, c), (f, la) in merged.items())
    for r in found:
        log.warning("reconnect %s: category %r looks renamed to %r (%d services moved); its visits count as %r",
                    tenant, r.old, r.new, r.services, r.new)
    return renames.rename_map(found)


def _fold_visits(conn: Connection, tenant: str, tracker: Tracker) -> int:
    """Stream every completed visit into the tracker; returns how many were read."""
    parsed: dict[Any, tuple[str, ...]] = {}  # the few distinct category lists, decoded once each
    seen = uncategorised = 0
    for batch in _stream(conn, _completed(tenant, conn.dialect.name)):
        seen += len(batch)
        for client_id, epoch, raw, branch in batch:
            categories = parsed.get(raw)
            if categories is None:
                categories = parsed[raw] = _categories(raw, tenant)
            if not categories:
                uncategorised += 1
                continue
            tracker.visit(client_id, epoch, categories, branch)
    if uncategorised:
        log.info("reconnect %s: %d completed visits have no known category and are not counted", tenant,
                 uncategorised)
    if tracker.future_visits:
        log.warning("reconnect %s: %d visits are marked completed but start in the future; not counted", tenant,
                    tracker.future_visits)
    return seen


def _completed(tenant: str, dialect: str) -> Select:
    epoch = (cast(func.strftime("%s", Visit.start_at), Integer) if dialect == "sqlite"
             else cast(extract("epoch", Visit.start_at), BigInteger))
    return select(Visit.client_id, epoch, cast(Visit.categories, Text), Visit.branch).where(
        Visit.tenant == tenant, Visit.status == BookingStatus.COMPLETED.value, Visit.client_id.is_not(None))


def _stream(conn: Connection, query: Select):
    """Batches of plain tuples from the driver's cursor (server-side on PostgreSQL), in this snapshot."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor(name="reconnect_scan") if conn.dialect.name == "postgresql" else dbapi.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(STREAM_BATCH):
            yield batch
    finally:
        cursor.close()


def _categories(raw: Any, tenant: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        log.warning("reconnect %s: a visit's categories are not JSON (%.40r); not counted", tenant, raw)
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(c for c in value if isinstance(c, str) and c)


def _category_filter(name: str | None, categories: tuple[str, ...], language: str) -> str | None:
    if not name:
        return None
    key = canonical_category(name)
    if key in categories:
        return key
    raise UnknownFilter("category", name, [f"{category_label(c, language)} ({c})" for c in categories])


def _branch_filter(branch: str | None, tenant: Tenant, seen: set[str | None]) -> str | None:
    if not branch:
        return None
    known = {b.id for b in tenant.branches} | {b for b in seen if b}
    if branch in known:
        return branch
    raise UnknownFilter("branch", branch, [f"{b} ({tenant.branch_name(b) or '?'})" for b in sorted(known)])

