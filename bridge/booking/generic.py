"""Our own booking event format, for salon systems that can POST JSON but are not YCLIENTS.

It is a deliberately small subset of the normalized schema in spec/booking.md §6.2: one booking snapshot
per event, the sender's ``event_id`` as dedupe key and ``occurred_at`` as ordering key. Every object is
validated with unknown fields *rejected* (422 naming them), because we own this format and a silently
dropped misspelt field (``"phnoe"``) loses data; ``meta`` is the free-form escape hatch. Contact data is
the exception: an unusable phone or email is dropped with a warning (``event.extra["warnings"]``) rather
than rejecting the whole booking, because it is typed by salon staff, not produced by the sender's code.
Format reference: docs/generic-events.md. These schemas are the one source of the format: the OpenAPI
document (``webhooks/openapi.py``) is generated from them, descriptions included (``metadata``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from bridge.booking.errors import PayloadError
from bridge.booking.parsing import Id, IsoDateTime, localize
from bridge.booking.phones import normalize_email, to_e164
from bridge.booking.source import Source
from config.tenants import Tenant
from pipelines.events import (
    GOODS_KINDS,
    Booking,
    BookingStatus,
    ClientInfo,
    GoodsLine,
    ServiceLine,
    Staff,
    VisitEvent,
)

SOURCE = "generic"
STATUSES = tuple(s.value for s in BookingStatus)
CHANNELS = ("online", "admin", "phone", "walk_in", "import", "unknown")
MAX_PRICE = Decimal("9999999999.99")
GENDERS = ("female", "male", "other")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class StaffSchema(_Strict):
    id = Id(required=True, metadata={"description": "The master's id in your system"})
    name = _text(200, allow_none=True, load_default=None)


class ServiceSchema(_Strict):
    id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = _text(120, allow_none=True, load_default=None, metadata={"description": (
        "Drives repeat-visit periodicity; else found from the tenant's services overrides by id or title, "
        "or the title read as a category name.")})
    category_id = Id(allow_none=True, load_default=None, metadata={
        "description": "Your system's id of the category (tenant files may give periodicities by it)."})
    price = fields.Decimal(allow_none=True, load_default=None, validate=validate.Range(min=0, max=MAX_PRICE),
                           metadata={"description": "Charged for this line (all units, after discounts); a decimal "
                                                    "string avoids float rounding."})
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))


class GoodsSchema(_Strict):
    id = Id(allow_none=True, load_default=None, metadata={"description": "The product's id in your system"})
    kind = fields.String(required=True, validate=validate.OneOf(GOODS_KINDS), metadata={
        "description": "product: sold to the client with the visit; material: used up for its services."})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    quantity = fields.Decimal(load_default=None, validate=validate.Range(min=0, max=Decimal(100000)),
                              metadata={"description": "In ``unit`` when given (2.5 ml), else pieces; default 1."})
    unit = _text(32, allow_none=True, load_default=None)
    amount = fields.Decimal(allow_none=True, load_default=None, validate=validate.Range(min=0, max=MAX_PRICE),
                            metadata={"description": "Money for the line (all units, after discounts): what the "
                                                     "client paid for a product, the cost of a material."})


class BookingSchema(_Strict):
    id = Id(required=True, metadata={"description": "Booking id in your system (stable across changes)."})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    start_at = IsoDateTime(required=True)
    duration_min = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0, max=1440))
    branch = Id(allow_none=True, load_default=None,
                metadata={"description": "A branch id from the tenant file; absent: the first branch."})
    staff = fields.Nested(StaffSchema, allow_none=True, load_default=None)
    services = fields.List(fields.Nested(ServiceSchema), required=True, validate=validate.Length(min=1, max=100))
    channel = fields.String(load_default="unknown", validate=validate.OneOf(CHANNELS))
    created_at = IsoDateTime(allow_none=True, load_default=None)
    comment = _text(2000, allow_none=True, load_default=None)
    goods = fields.List(fields.Nested(GoodsSchema), allow_none=True, load_default=None,
                        validate=validate.Length(max=200), metadata={"description": (
                            "Products sold and materials used with the visit; absent: unknown (what was stored "
                            "stays), an empty list: none.")})


class ClientSchema(_Strict):
    id = Id(allow_none=True, load_default=None)
    name = _text(200, allow_none=True, load_default=None)
    phone = _text(64, allow_none=True, load_default=None, metadata={"description": (
        "Any format; national numbers use the tenant's country. An invalid one is dropped with a warning, "
        "not rejected.")})
    email = _text(254, allow_none=True, load_default=None)
    birthday = fields.Date(allow_none=True, load_default=None)
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    gender = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(GENDERS))
    utm = fields.Dict(keys=fields.String(validate=validate.OneOf(UTM_KEYS)),
                      values=fields.String(validate=validate.Length(max=120)), allow_none=True, load_default=None)


class GenericEventSchema(_Strict):
    """One snapshot of one booking (docs/generic-events.md)."""

    event_id = fields.String(required=True, validate=validate.Length(min=1, max=128), metadata={
        "description": "Unique per change; re-sending the same event_id is a no-op (dedupe key)."})
    occurred_at = IsoDateTime(required=True, require_offset=True, metadata={"description": (
        "When the change happened in your system, with a UTC offset. Orders deliveries of the same "
        "booking: an older snapshot never overrides a newer one.")})
    booking = fields.Nested(BookingSchema, required=True)
    client = fields.Nested(ClientSchema, allow_none=True, load_default=None)
    meta = fields.Dict(keys=fields.String(), allow_none=True, load_default=None,
                       metadata={"description": "Free-form; kept with the event, never interpreted."})


# One instance for the process: building a schema deep-copies every field (about a millisecond per
# webhook), while loading with it keeps no state between calls.
_SCHEMA = GenericEventSchema()


def normalize_generic(body: dict[str, Any], tenant: Tenant, received_at: datetime) -> VisitEvent:
    """A generic JSON event → ``VisitEvent``; ``PayloadError`` with dotted field paths when invalid.

    Naive ``start_at``/``created_at`` are the salon's local time (``tenant.timezone``, DST rule in
    ``parsing.localize``). ``received_at`` is only checked: the sender's ``occurred_at`` orders events.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    try:
        event = _SCHEMA.load(body)
    except ValidationError as exc:
        raise PayloadError.from_marshmallow(exc.messages, message="invalid booking event") from exc
    b = event["booking"]
    tz = tenant.timezone
    warnings: list[str] = []
    services = tuple(
        ServiceLine(s["id"], s["title"], s["category"] or None, s["price"], s["quantity"], s["category_id"])
        for s in b["services"]
    )
    prices = [s.price for s in services if s.price is not None]
    booking = Booking(
        external_id=b["id"],
        status=BookingStatus(b["status"]),
        start_at=localize(b["start_at"], tz),
        duration_min=b["duration_min"],
        branch=_branch(b["branch"], tenant),
        staff=Staff(b["staff"]["id"], b["staff"]["name"] or None) if b["staff"] else None,
        services=services,
        total_price=sum(prices, Decimal(0)) if prices else None,
        channel=b["channel"],
        created_at=localize(b["created_at"], tz) if b["created_at"] else None,
        comment=b["comment"] or None,
        goods=tuple(GoodsLine(g["kind"], g["title"], Decimal(1) if g["quantity"] is None else g["quantity"],
                              g["amount"], g["unit"], g["id"]) for g in b["goods"] or ()),
        goods_reported=GOODS_KINDS if b["goods"] is not None else (),
    )
    client = _client(event["client"], tenant.country, warnings)
    extra: dict[str, Any] = {}
    if event["meta"]:
        extra["meta"] = event["meta"]
    if warnings:
        extra["warnings"] = warnings
    return VisitEvent(
        tenant=tenant.slug,
        source=SOURCE,
        dedupe_key=event["event_id"],
        occurred_at=event["occurred_at"],
        booking=booking,
        client=client,
        source_event=f"booking:{b['status']}",
        extra=extra,
    )


def _branch(branch: str | None, tenant: Tenant) -> str:
    """The given branch must be one of the tenant's; absent means the tenant's first (main) branch."""
    if branch is None:
        return tenant.branches[0].id
    if branch not in {b.id for b in tenant.branches}:
        known = ", ".join(b.id for b in tenant.branches)
        raise PayloadError("invalid booking event", {"booking.branch": [f"unknown branch; expected one of: {known}"]})
    return branch


def _client(data: dict[str, Any] | None, country: str, warnings: list[str]) -> ClientInfo | None:
    if not data:
        return None
    phone = to_e164(data["phone"], country)
    if phone is None and (data["phone"] or "").strip():
        warnings.append(f"client.phone: not a valid phone number for {country}, dropped")
    email = normalize_email(data["email"])
    if email is None and (data["email"] or "").strip():
        warnings.append("client.email: not a valid address, dropped")
    client = ClientInfo(
        external_id=data["id"],
        name=(data["name"] or "").strip() or None,
        phone=phone,
        email=email,
        birthday=data["birthday"],
        tags=tuple(data["tags"]),
        gender=data["gender"],
        utm=tuple(sorted((data["utm"] or {}).items())),
    )
    return client if (client.external_id or client.name or client.phone or client.email) else None


GENERIC = Source(SOURCE, normalize_generic, for_every_tenant=True, label="generic JSON")
