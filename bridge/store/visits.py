"""Clients and visits: the salon's history as salonbridge knows it, upserted from booking snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from bridge.store.models import Client, Visit, VisitService
from pipelines.actions import RecordVisit
from pipelines.events import BookingStatus, ClientInfo, GoodsLine, ServiceLine, VisitEvent, jsonable, merge_goods
from pipelines.snapshot import VisitState

# Built once (every event runs them): only the bound values change, so SQLAlchemy's statement cache is hit
# without rebuilding and re-coercing the clauses each time. Events read and write clients and visits as plain
# rows (table-level statements), without the ORM's identity map and unit of work.
_CLIENTS, _VISITS, _LINES = Client.__table__, Visit.__table__, VisitService.__table__
_V, _VS = _VISITS.c, _LINES.c
_FIND_VISIT = (
    select(_V.id, _V.client_id, _V.external_id, _V.status, _V.start_at, _V.staff_id, _V.staff_name, _V.branch,
           _V.total_price, _V.version, _V.categories, _V.goods, _V.history, _V.booked_at,
           _VS.id.label("line_pk"), _VS.external_id.label("line_id"), _VS.title, _VS.category, _VS.price,
           _VS.quantity)
    .select_from(_VISITS.outerjoin(_LINES, _VS.visit_id == _V.id))
    .where(_V.tenant == bindparam("tenant"), _V.source == bindparam("source"),
           _V.external_id == bindparam("external_id"))
    .order_by(_VS.position)
)
_LOCK_CLIENT = select(Client).where(Client.id == bindparam("client_id"), Client.tenant == bindparam("tenant")) \
    .with_for_update()


@dataclass
class StoredVisit:
    """A stored booking as an event reads it before rewriting it: the row and its service lines, as values."""

    id: int
    client_id: int | None
    external_id: str
    status: str
    start_at: datetime
    staff_id: str | None
    staff_name: str | None
    branch: str | None
    total_price: Decimal | None
    version: datetime
    categories: list[Any] | None
    goods: list[Any] | None
    history: list[Any] | None
    booked_at: datetime | None = None  # when the booking system made the booking, if it said so
    services: tuple[ServiceLine, ...] = ()  # in position order, with price and quantity
    line_ids: tuple[int, ...] = ()  # their rows' primary keys

    @property
    def rule_lines(self) -> tuple[ServiceLine, ...]:
        """The service lines as the rules see them: without price and quantity."""
        return tuple(ServiceLine(line.external_id, line.title, line.category) for line in self.services)


def find_visit(session: Session, tenant: str, source: str, external_id: str) -> StoredVisit | None:
    """The stored booking with its service lines (one query: an update compares them)."""
    rows = session.connection().execute(
        _FIND_VISIT, {"tenant": tenant, "source": source, "external_id": external_id}).all()
    if not rows:
        return None
    r = rows[0]
    lines = [row for row in rows if row.line_pk is not None]
    return StoredVisit(
        id=r.id, client_id=r.client_id, external_id=r.external_id, status=r.status, start_at=r.start_at,
        staff_id=r.staff_id, staff_name=r.staff_name, branch=r.branch, total_price=r.total_price, version=r.version,
        categories=r.categories, goods=r.goods, history=r.history, booked_at=r.booked_at,
        services=tuple(ServiceLine(x.line_id, x.title, x.category, x.price, x.quantity) for x in lines),
        line_ids=tuple(x.line_pk for x in lines),
    )


def lock_client(session: Session, tenant: str, client_id: int) -> Client | None:
    """The client, its row locked until the transaction ends (an event of the same client waits)."""
    return session.scalar(_LOCK_CLIENT, {"client_id": client_id, "tenant": tenant})


def visit_state(row: Any, lines: Sequence[ServiceLine]) -> VisitState:
    """A stored visit as the rules see it, from its row's columns (a StoredVisit or a snapshot's row) and its
    service lines as the rules see them (ids, titles and categories: ``StoredVisit.rule_lines``)."""
    return VisitState(
        external_id=row.external_id,
        status=BookingStatus(row.status),
        start_at=row.start_at,
        staff_id=row.staff_id,
        version=row.version,
        categories=tuple(row.categories or ()),
        staff_name=row.staff_name,
        branch=row.branch,
        services=tuple(line.title for line in lines),
        price=row.total_price,
        goods=goods_of(row.goods),
        booked_at=row.booked_at,
        lines=tuple(lines),
    )


def goods_of(stored: list[Any] | None) -> tuple[GoodsLine, ...]:
    """The visit's stored goods (``visits.goods``) as GoodsLine values, amounts as Decimal."""
    return tuple(GoodsLine.from_dict(g) for g in stored or ())


_C = _CLIENTS.c
_PROBES = {
    "external_id": (_C.source == bindparam("source")) & (_C.external_id == bindparam("external_id")),
    "phone": _C.phone == bindparam("phone"),
    "email": _C.email == bindparam("email"),
}
_FIND_CLIENT: dict[tuple[tuple[str, ...], bool], Any] = {}  # by the probes an event has, built on first use


def _find_client_statement(probes: tuple[str, ...], plain: bool = False) -> Any:
    """Rows matching any probe (each has an index of its own), ranked by the first probe they meet, then by id;
    locked until the transaction ends (a clock tick waits for this event, and vice versa). ``plain``: the
    columns of a StoredClient, not the ORM entity."""
    statement = _FIND_CLIENT.get((probes, plain))
    if statement is None:
        where = [_PROBES[name] for name in probes]
        rank = (case(*((probe, i) for i, probe in enumerate(where)), else_=len(where)),) if len(where) > 1 else ()
        columns = [_C[name] for name in _CLIENT_FIELDS] if plain else [Client]
        statement = _FIND_CLIENT[probes, plain] = (
            select(*columns).where(_C.tenant == bindparam("tenant"), or_(*where))
            .order_by(*rank, _C.id).limit(1).with_for_update()
        )
    return statement


def find_client(session: Session, tenant: str, source: str, info: ClientInfo | None) -> Client | None:
    """Match by the source's client id, then phone, then email (the order amoCRM contacts dedupe in), in one
    query whatever matches."""
    found = _client_query(tenant, source, info)
    return session.scalar(_find_client_statement(found[0]), found[1]) if found else None


def _client_query(tenant: str, source: str, info: ClientInfo | None) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """The probes an event's client has, and their values; None when it has none."""
    if info is None:
        return None
    values = {"external_id": info.external_id, "phone": info.phone, "email": info.email}
    probes = tuple(name for name, value in values.items() if value)
    if not probes:
        return None
    params = {"tenant": tenant, **{name: values[name] for name in probes}}
    if "external_id" in probes:
        params["source"] = source
    return probes, params


@dataclass
class StoredClient:
    """A client as an event reads and writes it: the row's values (``id`` None until it is inserted)."""

    id: int | None
    source: str | None = None
    external_id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    birthday: date | None = None
    gender: str | None = None
    tags: list[Any] | None = field(default_factory=list)
    opted_out: bool = False
    blacklisted: bool = False
    card_type: str | None = None
    balance: Decimal | None = None
    acquisition: str | None = None
    utm: dict[str, Any] | None = None


_CLIENT_FIELDS = tuple(f.name for f in fields(StoredClient))
_WRITTEN = ("source", "external_id", "name", "phone", "email", "birthday", "gender", "tags", "acquisition", "utm")
_INSERT_CLIENT = insert(_CLIENTS).returning(_C.id)
_UPDATE_CLIENT = update(_CLIENTS).where(_C.id == bindparam("b_id"))


def upsert_client(session: Session, event: VisitEvent, now: datetime) -> StoredClient | None:
    """The event's client found (its row locked until the transaction ends) or created, with what the event
    says about them written at once; its wake-up set to ``now``, so the clock looks at its new state."""
    info = event.client
    found = _client_query(event.tenant, event.source, info)
    if info is None or found is None:
        return None
    conn = session.connection()
    row = conn.execute(_find_client_statement(found[0], plain=True), found[1]).first()
    client = StoredClient(**row._mapping) if row is not None else StoredClient(id=None, source=event.source)
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
    values = {name: getattr(client, name) for name in _WRITTEN}
    if client.id is None:
        client.id = conn.scalar(_INSERT_CLIENT, {
            **values, "tenant": event.tenant, "opted_out": False, "blacklisted": False, "created_at": now,
            "updated_at": now, "wake_at": now})
    else:
        conn.execute(_UPDATE_CLIENT, {**values, "b_id": client.id, "updated_at": now, "wake_at": now})
    return client


_CHANNEL_SOURCE = {"online": "online booking", "admin": "administrator", "phone": "phone", "walk_in": "walk-in"}


def is_stale(visit: StoredVisit | None, event: VisitEvent) -> bool:
    """``pipelines.transitions.is_stale`` on the stored row (without loading its services)."""
    return visit is not None and event.occurred_at < visit.version


_INSERT_VISIT = insert(_VISITS).returning(_V.id)
_UPDATE_VISIT = update(_VISITS).where(_V.id == bindparam("b_id"))
_INSERT_LINES = insert(_LINES)
_DELETE_LINES = delete(_LINES).where(_VS.id == bindparam("b_id"))


def upsert_visit(
    session: Session, event: VisitEvent, visit: StoredVisit | None, client: StoredClient | None,
    record: RecordVisit | None, now: datetime,
) -> int:
    """Write the event's snapshot over the stored ``visit`` (the caller has already ruled out stale ones),
    with what the plan's RecordVisit says it meant: its transitions (history) and canonical categories.
    Returns the visit's id. Columns the event does not speak about (goods it does not report; history and
    categories without a RecordVisit) are left as they are."""
    b = event.booking
    values: dict[str, Any] = {
        "status": b.status.value, "start_at": b.start_at, "duration_min": b.duration_min, "branch": b.branch,
        "staff_id": b.staff.external_id if b.staff else None, "staff_name": b.staff.name if b.staff else None,
        "total_price": b.total_price, "channel": b.channel, "comment": b.comment, "version": event.occurred_at,
        "updated_at": now,
    }
    if client is not None:
        values["client_id"] = client.id
    if b.goods_reported:
        goods = merge_goods(goods_of(visit.goods if visit else None), b.goods, b.goods_reported)
        values["goods"] = jsonable(goods) or None
    if b.created_at is not None:  # otherwise what was stored stays
        values["booked_at"] = b.created_at
    if record is not None:
        stamp = event.occurred_at.isoformat()
        values["history"] = [*((visit.history if visit else None) or []),
                             *({"at": stamp, "transition": t.value} for t in record.transitions)]
        values["categories"] = list(record.categories)
    conn = session.connection()
    if visit is None:
        visit_id = conn.scalar(_INSERT_VISIT, {
            "history": [], "categories": [], **values, "tenant": event.tenant, "source": event.source,
            "external_id": b.external_id, "created_at": now})
    else:
        visit_id = visit.id
        conn.execute(_UPDATE_VISIT, {**values, "b_id": visit_id})
    lines = [(line.external_id, line.title, line.category, line.price, line.quantity) for line in b.services]
    stored = [(line.external_id, line.title, line.category, line.price, line.quantity)
              for line in (visit.services if visit else ())]
    if visit is None or lines != stored:  # the new lines go in, then the old ones go
        if lines:
            conn.execute(_INSERT_LINES, [
                {"visit_id": visit_id, "position": i, "external_id": e, "title": t, "category": c, "price": p,
                 "quantity": q} for i, (e, t, c, p, q) in enumerate(lines)])
        if visit is not None and visit.line_ids:
            conn.execute(_DELETE_LINES, [{"b_id": pk} for pk in visit.line_ids])
    return visit_id
