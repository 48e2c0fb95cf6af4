"""Normalized booking events: what every booking source is translated into before anything else runs.

One event is one snapshot of a booking (a YCLIENTS record, a generic JSON booking) as the source saw it
at ``occurred_at``. Which transition it represents (created, completed, cancelled, restored...) is
decided later against the stored history, because sources send snapshots, not diffs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any


class BookingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def is_upcoming(self) -> bool:
        """A booking that still expects the client to come."""
        return self in (BookingStatus.SCHEDULED, BookingStatus.CONFIRMED)


@dataclass(frozen=True)
class ServiceLine:
    external_id: str
    title: str
    category: str | None = None  # as the source or the catalog names it (canonical key: pipelines.catalog)
    price: Decimal | None = None
    quantity: int = 1
    category_id: str | None = None  # the booking system's id of that category, when it gives one


GOODS_KINDS = ("product", "material")  # sold to the client with the visit | used up for its services


@dataclass(frozen=True)
class GoodsLine:
    """A product sold with the visit (``product``) or a material its services used (``material``)."""

    kind: str  # one of GOODS_KINDS
    title: str
    quantity: Decimal = Decimal(1)  # in ``unit`` (materials are often fractional: 2.5 ml)
    amount: Decimal | None = None  # money: what the client paid for a product, the cost of a material
    unit: str | None = None
    external_id: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoodsLine:
        return cls(kind=str(data["kind"]), title=str(data["title"]),
                   quantity=_decimal(data.get("quantity")) or Decimal(1), amount=_decimal(data.get("amount")),
                   unit=data.get("unit"), external_id=data.get("external_id"))


def merge_goods(stored: tuple[GoodsLine, ...], given: tuple[GoodsLine, ...],
                reported: tuple[str, ...]) -> tuple[GoodsLine, ...]:
    """The visit's goods after a snapshot: each kind the snapshot reports replaces that kind's lines; a
    kind it does not carry (YCLIENTS sends materials only when asked for them) keeps what was stored."""
    kept = tuple(line for line in stored if line.kind not in reported)
    return kept + tuple(line for line in given if line.kind in reported)


@dataclass(frozen=True)
class Staff:
    external_id: str
    name: str | None = None


@dataclass(frozen=True)
class ClientInfo:
    external_id: str | None = None
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    birthday: date | None = None
    tags: tuple[str, ...] = ()
    gender: str | None = None  # female | male | other, where the source gives it
    utm: tuple[tuple[str, str], ...] = ()  # (utm_source, x), (utm_medium, y)... from the booking link

    @property
    def acquisition(self) -> str | None:
        """The ad source the booking link named (``utm_source``), if any."""
        return dict(self.utm).get("utm_source")

    @property
    def is_reachable(self) -> bool:
        return bool(self.phone or self.email)


@dataclass(frozen=True)
class Booking:
    external_id: str
    status: BookingStatus
    start_at: datetime  # timezone-aware
    duration_min: int | None = None
    branch: str | None = None
    staff: Staff | None = None
    services: tuple[ServiceLine, ...] = ()
    total_price: Decimal | None = None
    channel: str = "unknown"
    created_at: datetime | None = None
    comment: str | None = None
    goods: tuple[GoodsLine, ...] = ()  # products sold and materials used, where the source gives them
    goods_reported: tuple[str, ...] = ()  # the GOODS_KINDS this snapshot carries (absent ≠ none)

    @property
    def categories(self) -> tuple[str, ...]:
        """Distinct service categories in booking order (unknown categories left out)."""
        seen: dict[str, None] = {}
        for line in self.services:
            if line.category:
                seen.setdefault(line.category, None)
        return tuple(seen)


@dataclass(frozen=True)
class VisitEvent:
    """A booking snapshot from one source, for one tenant, as of ``occurred_at``."""

    tenant: str
    source: str
    dedupe_key: str
    occurred_at: datetime  # the source's change time: orders deliveries of the same booking
    booking: Booking
    client: ClientInfo | None = None
    source_event: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_history(self) -> bool:
        """An imported visit (channel ``import``, or a booking-system import marking ``extra["history"]``)."""
        return self.booking.channel == "import" or bool(self.extra.get("history"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the one stored with the inbound event and replayed from files."""
        return jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisitEvent:
        b = data["booking"]
        booking = Booking(
            external_id=b["external_id"],
            status=BookingStatus(b["status"]),
            start_at=datetime.fromisoformat(b["start_at"]),
            duration_min=b.get("duration_min"),
            branch=b.get("branch"),
            staff=Staff(**b["staff"]) if b.get("staff") else None,
            services=tuple(
                ServiceLine(
                    external_id=s["external_id"],
                    title=s["title"],
                    category=s.get("category"),
                    price=_decimal(s.get("price")),
                    quantity=int(s.get("quantity") or 1),
                    category_id=s.get("category_id"),
                )
                for s in b.get("services") or ()
            ),
            total_price=_decimal(b.get("total_price")),
            channel=b.get("channel") or "unknown",
            created_at=datetime.fromisoformat(b["created_at"]) if b.get("created_at") else None,
            comment=b.get("comment"),
            goods=tuple(GoodsLine.from_dict(g) for g in b.get("goods") or ()),
            goods_reported=tuple(b.get("goods_reported") or ()),
        )
        c = data.get("client")
        client = None
        if c:
            client = ClientInfo(
                external_id=c.get("external_id"),
                name=c.get("name"),
                phone=c.get("phone"),
                email=c.get("email"),
                birthday=date.fromisoformat(c["birthday"]) if c.get("birthday") else None,
                tags=tuple(c.get("tags") or ()),
                gender=c.get("gender"),
                utm=tuple((str(k), str(v)) for k, v in (c.get("utm") or ())),
            )
        return cls(
            tenant=data["tenant"],
            source=data["source"],
            dedupe_key=data["dedupe_key"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            booking=booking,
            client=client,
            source_event=data.get("source_event"),
            extra=dict(data.get("extra") or {}),
        )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


_PLAIN = frozenset({str, int, float, bool, type(None)})  # as they are (exactly these types: not a StrEnum)


def jsonable(value: Any) -> Any:
    """Dataclasses, dates, decimals and enums as JSON values (without ``asdict``'s deep copies).

    Every planned action goes through here before it is stored, so plain values are let through first
    and a dataclass's field names are looked up once per class."""
    if type(value) in _PLAIN:
        return value
    names = _field_names(type(value))
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names in order; None for any other type."""
    return tuple(f.name for f in fields(cls)) if is_dataclass(cls) else None
