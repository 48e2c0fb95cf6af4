"""Clients and visits: the salon's history as salonbridge knows it, upserted from booking snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, select
from sqlalchemy.orm import Session, joinedload

from bridge.store.models import Client, Visit, VisitService
from pipelines.actions import RecordVisit
from pipelines.events import BookingStatus, ClientInfo, GoodsLine, ServiceLine, VisitEvent, jsonable, merge_goods
from pipelines.snapshot import VisitState

# Built once (every event runs them): only the bound values change, so SQLAlchemy's statement cache is hit
# without rebuilding and re-coercing the clauses each time.
_FIND_VISIT = (
    select(Visit).options(joinedload(Visit.services))
    .where(Visit.tenant == bindparam("tenant"), Visit.source == bindparam("source"),
           Visit.external_id == bindparam("external_id"))
)
_LOCK_CLIENT = select(Client).where(Client.id == bindparam("client_id"), Client.tenant == bindparam("tenant")) \
    .with_for_update()


def find_visit(session: Session, tenant: str, source: str, external_id: str) -> Visit | None:
    """The stored booking with its service lines (one query: an update compares them)."""
    return session.scalars(
        _FIND_VISIT, {"tenant": tenant, "source": source, "external_id": external_id}
    ).unique().first()


def lock_client(session: Session, tenant: str, client_id: int) -> Client | None:
    """The client, its row locked until the transaction ends (an event of the same client waits)."""
    return session.scalar(_LOCK_CLIENT, {"client_id": client_id, "tenant": tenant})


def visit_state(visit: Visit) -> VisitState:
    return VisitState(
        external_id=visit.external_id,
        status=BookingStatus(visit.status),
        start_at=visit.start_at,
        staff_id=visit.staff_id,
        version=visit.version,
        categories=tuple(visit.categories or ()),
        staff_name=visit.staff_name,
        branch=visit.branch,
        services=tuple(line.title for line in visit.services),
        price=visit.total_price,
        goods=goods_of(visit.goods),
        booked_at=visit.booked_at,
        lines=tuple(ServiceLine(line.external_id, line.title, line.category) for line in visit.services),
    )


def goods_of(stored: list[Any] | None) -> tuple[GoodsLine, ...]:
    """The visit's stored goods (``visits.goods``) as GoodsLine values, amounts as Decimal."""
    return tuple(GoodsLine.from_dict(g) for g in stored or ())


_PROBES = {
    "external_id": (Client.source == bindparam("source")) & (Client.external_id == bindparam("external_id")),
    "phone": Client.phone == bindparam("phone"),
    "email": Client.email == bindparam("email"),
}
_FIND_CLIENT: dict[tuple[str, ...], Any] = {}  # by the probes an event has, built on first use


def _find_client_statement(probes: tuple[str, ...]) -> Any:
    """Rows matching any probe (each has an index of its own), ranked by the first probe they meet, then by id;
    locked until the transaction ends (a clock tick waits for this event, and vice versa)."""
    statement = _FIND_CLIENT.get(probes)
    if statement is None:
        where = [_PROBES[name] for name in probes]
        rank = (case(*((probe, i) for i, probe in enumerate(where)), else_=len(where)),) if len(where) > 1 else ()
        statement = _FIND_CLIENT[probes] = (
            select(Client).where(Client.tenant == bindparam("tenant"), or_(*where))
            .order_by(*rank, Client.id).limit(1).with_for_update()
        )
    return statement


def find_client(session: Session, tenant: str, source: str, info: ClientInfo | None) -> Client | None:
    """Match by the source's client id, then phone, then email (the order amoCRM contacts dedupe in), in one
    query whatever matches."""
    if info is None:
        return None
    values = {"external_id": info.external_id, "phone": info.phone, "email": info.email}
    probes = tuple(name for name, value in values.items() if value)
    if not probes:
        return None
    params = {"tenant": tenant, **{name: values[name] for name in probes}}
    if "external_id" in probes:
        params["source"] = source
    return session.scalar(_find_client_statement(probes), params)


def upsert_client(session: Session, event: VisitEvent, now: datetime) -> Client | None:
    info = event.client
    if info is None or not (info.external_id or info.phone or info.email):
        return None
    client = find_client(session, event.tenant, event.source, info)
    if client is None:
        client = Client(tenant=event.tenant, source=event.source, created_at=now, tags=[], blacklisted=False)
        session.add(client)
    if client.acquisition is None:  # where the client came from: their first booking's link, else its channel
        client.acquisition = info.acquisition or _CHANNEL_SOURCE.get(event.booking.channel)
        client.utm = dict(info.utm) or None
    if info.external_id and not client.external_id:
        client.source, client.external_id = event.source, info.external_id
    client.name = info.name or client.name
    client.phone = info.phone or client.phone
    client.email = info.email or client.email
    client.birthday = info.birthday or client.birthday
    client.gender = info.gender or client.gender
    if info.tags:
        client.tags = sorted(set(client.tags or []) | set(info.tags))
    client.updated_at = now
    return client


_CHANNEL_SOURCE = {"online": "online booking", "admin": "administrator", "phone": "phone", "walk_in": "walk-in"}


def is_stale(visit: Visit | None, event: VisitEvent) -> bool:
    """``pipelines.transitions.is_stale`` on the stored row (without loading its services)."""
    return visit is not None and event.occurred_at < visit.version


def upsert_visit(
    session: Session, event: VisitEvent, visit: Visit | None, client: Client | None, record: RecordVisit | None,
    now: datetime,
) -> Visit:
    """Write the event's snapshot over the stored ``visit`` (the caller has already ruled out stale ones),
    with what the plan's RecordVisit says it meant: its transitions (history) and canonical categories."""
    b = event.booking
    if visit is None:
        visit = Visit(tenant=event.tenant, source=event.source, external_id=b.external_id, created_at=now, history=[])
        session.add(visit)
    if client is not None:
        visit.client = client
    visit.status = b.status.value
    visit.start_at = b.start_at
    visit.duration_min = b.duration_min
    visit.branch = b.branch
    visit.staff_id = b.staff.external_id if b.staff else None
    visit.staff_name = b.staff.name if b.staff else None
    visit.total_price = b.total_price
    visit.channel = b.channel
    visit.comment = b.comment
    if b.goods_reported:
        goods = merge_goods(goods_of(visit.goods), b.goods, b.goods_reported)
        visit.goods = jsonable(goods) or None
    visit.booked_at = b.created_at or visit.booked_at
    visit.version = event.occurred_at
    visit.updated_at = now
    if record is not None:
        stamp = event.occurred_at.isoformat()
        visit.history = [*(visit.history or []), *({"at": stamp, "transition": t.value} for t in record.transitions)]
        visit.categories = list(record.categories)
    lines = [(line.external_id, line.title, line.category, line.price, line.quantity) for line in b.services]
    if visit.id is None or lines != [(s.external_id, s.title, s.category, s.price, s.quantity) for s in visit.services]:
        visit.services = [
            VisitService(position=i, external_id=e, title=t, category=c, price=p, quantity=q)
            for i, (e, t, c, p, q) in enumerate(lines)
        ]
    return visit
