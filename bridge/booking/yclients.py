"""YCLIENTS / Altegio: record webhooks → ``VisitEvent``, and the REST calls catch-up polling needs.

YCLIENTS sends full record snapshots, unsigned, without retries, ordering or event ids (spec/booking.md
§1.4). So the event carries a content-derived dedupe key and the record's ``last_change_date`` as
``occurred_at``; polled records are wrapped into the webhook envelope (``record_as_webhook``) and go
through the very same ``normalize_record``, so a missed hook and its catch-up look identical downstream.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import requests
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validates_schema

from bridge.booking.errors import IgnoredResource, PayloadError
from bridge.booking.parsing import Id, IsoDateTime, localize, parse_birthday
from bridge.booking.phones import normalize_email, to_e164
from bridge.booking.source import ServiceInfo, Source, SourceApiError
from config.tenants import Tenant
from pipelines.events import Booking, BookingStatus, ClientInfo, GoodsLine, ServiceLine, Staff, VisitEvent

log = logging.getLogger(__name__)

SOURCE = "yclients"
ATTENDANCE_STATUS = {
    1: BookingStatus.COMPLETED,
    -1: BookingStatus.NO_SHOW,
    2: BookingStatus.CONFIRMED,
    0: BookingStatus.SCHEDULED,
}

# ---------------------------------------------------------------------------------------------------------
# Webhook shape. Only the fields we use are declared; everything else is dropped (unknown=EXCLUDE),
# because YCLIENTS adds fields freely and a hook we 4xx is never re-sent.


class _Loose(Schema):
    class Meta:
        unknown = EXCLUDE

    nullable_objects: frozenset[str] = frozenset()

    @pre_load
    def _blank_is_missing(self, data: Any, **_: Any) -> Any:
        """PHP-isms: ``""`` means no value; ``[]`` or ``{}`` means no object (e.g. a record without client)."""
        if not isinstance(data, dict):
            return data
        return {k: (None if _blank(v, k in self.nullable_objects) else v) for k, v in data.items()}


def _blank(value: Any, is_object: bool) -> bool:
    if isinstance(value, str):
        return value == ""
    return is_object and isinstance(value, list | dict) and not value


class _StaffSchema(_Loose):
    id = Id(allow_none=True, load_default=None)
    name = fields.String(allow_none=True, load_default=None)


class _ServiceSchema(_Loose):
    id = Id(required=True)
    title = fields.String(allow_none=True, load_default=None)
    cost = fields.Decimal(allow_none=True, load_default=None)
    amount = fields.Integer(allow_none=True, load_default=None)


class _ClientSchema(_Loose):
    id = Id(allow_none=True, load_default=None)
    name = fields.String(allow_none=True, load_default=None)
    surname = fields.String(allow_none=True, load_default=None)
    display_name = fields.String(allow_none=True, load_default=None)
    phone = fields.Raw(allow_none=True, load_default=None)
    email = fields.Raw(allow_none=True, load_default=None)
    birthday = fields.Raw(allow_none=True, load_default=None)
    client_tags = fields.List(fields.Raw(), allow_none=True, load_default=list)
    sex = fields.Raw(allow_none=True, load_default=None)  # 0 not given, 1 male, 2 female
    sex_id = fields.Raw(allow_none=True, load_default=None)  # the REST API's name for it


class _RecordSchema(_Loose):
    nullable_objects = frozenset({"client", "staff"})

    id = Id(required=True)
    company_id = Id(allow_none=True, load_default=None)
    date = IsoDateTime(allow_none=True, load_default=None)
    datetime = IsoDateTime(allow_none=True, load_default=None)
    create_date = IsoDateTime(allow_none=True, load_default=None)
    last_change_date = IsoDateTime(allow_none=True, load_default=None)
    seance_length = fields.Integer(allow_none=True, load_default=None)
    length = fields.Integer(allow_none=True, load_default=None)
    attendance = fields.Integer(allow_none=True, load_default=None)
    deleted = fields.Boolean(allow_none=True, load_default=False)
    online = fields.Boolean(allow_none=True, load_default=None)
    staff_id = Id(allow_none=True, load_default=None)
    staff = fields.Nested(_StaffSchema, allow_none=True, load_default=None)
    services = fields.List(fields.Nested(_ServiceSchema), allow_none=True, load_default=list)
    client = fields.Nested(_ClientSchema, allow_none=True, load_default=None)
    comment = fields.String(allow_none=True, load_default=None)
    visit_id = Id(allow_none=True, load_default=None)
    # Products sold (retail) and materials written off with the record; consumables only come with
    # ``include_consumables=1``. Read leniently (``_goods``): a malformed line is dropped with a warning.
    goods_transactions = fields.Raw(allow_none=True, load_default=None)
    consumables = fields.Raw(allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def _has_start(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("date") is None and data.get("datetime") is None:
            raise ValidationError("a record needs date or datetime", "date")


class _EnvelopeSchema(_Loose):
    company_id = Id(required=True)
    resource = fields.String(required=True)
    resource_id = Id(allow_none=True, load_default=None)
    status = fields.String(required=True)
    data = fields.Nested(_RecordSchema, required=True)


# ---------------------------------------------------------------------------------------------------------
# Normalisation


_ENVELOPE = _EnvelopeSchema()  # built once: schema construction costs more than a load


def normalize_record(body: dict[str, Any], tenant: Tenant, received_at: datetime) -> VisitEvent:
    """One YCLIENTS/Altegio ``record`` webhook body → ``VisitEvent`` for ``tenant``.

    Raises ``IgnoredResource`` for other resources (answer 202) and ``PayloadError`` naming the fields
    for anything malformed or not this tenant's (answer 422). Naive times are the salon's local time
    (``tenant.timezone``, DST rule in ``parsing.localize``).
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    resource = body.get("resource") if isinstance(body, dict) else None
    if isinstance(resource, str) and resource and resource != "record":
        raise IgnoredResource(resource)
    try:
        env = _ENVELOPE.load(body)
    except ValidationError as exc:
        raise PayloadError.from_marshmallow(exc.messages, message="invalid YCLIENTS record webhook") from exc
    if env["resource"] != "record":
        raise IgnoredResource(env["resource"])
    rec = env["data"]
    branch = _branch(env, rec, tenant)
    tz = tenant.timezone
    warnings: list[str] = []

    status = _status(env["status"], rec, warnings)
    start_at = localize(rec["date"] or rec["datetime"], tz)
    last_change = localize(rec["last_change_date"], tz) if rec["last_change_date"] else None
    created_at = localize(rec["create_date"], tz) if rec["create_date"] else None
    resource_id = env["resource_id"] or rec["id"]
    seconds = rec["seance_length"] if rec["seance_length"] is not None else rec["length"]
    services = _services(rec["services"])
    costs = [line.price for line in services if line.price is not None]
    goods, reported = _goods(rec, warnings)

    booking = Booking(
        external_id=rec["id"],
        status=status,
        start_at=start_at,
        duration_min=seconds // 60 if seconds is not None else None,
        branch=branch,
        staff=_staff(rec),
        services=services,
        total_price=sum(costs, Decimal(0)) if costs else None,
        channel="online" if rec["online"] else "admin",
        created_at=created_at,
        comment=rec["comment"] or None,
        goods=goods,
        goods_reported=reported,
    )
    extra: dict[str, Any] = {"visit_id": rec["visit_id"], "attendance": rec["attendance"]}
    client = _client(rec["client"], tenant.country, warnings)
    if warnings:
        extra["warnings"] = warnings
    return VisitEvent(
        tenant=tenant.slug,
        source=SOURCE,
        dedupe_key=dedupe_key(env["company_id"], "record", resource_id, env["status"], last_change),
        occurred_at=last_change or created_at or received_at,
        booking=booking,
        client=client,
        source_event=f"record:{env['status']}",
        extra=extra,
    )


def dedupe_key(company_id: str, resource: str, resource_id: str, status: str, last_change: datetime | None) -> str:
    """``sha256:<hex>`` of ``yclients|company_id|resource|resource_id|status|last_change_date``.

    ``last_change_date`` enters in normalised ISO form (``+03:00``), so the same snapshot seen by a
    webhook and by the poller (``record_as_webhook`` uses status ``update``/``delete``) gets one key.
    """
    stamp = last_change.isoformat() if last_change else ""
    raw = "|".join((SOURCE, str(company_id), resource, str(resource_id), status, stamp))
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _branch(env: dict[str, Any], rec: dict[str, Any], tenant: Tenant) -> str:
    company_id = env["company_id"]
    if company_id not in {b.id for b in tenant.branches}:
        raise PayloadError(
            f"company_id {company_id} is not a branch of tenant {tenant.slug}",
            {"company_id": [f"unknown company_id {company_id} for this tenant"]},
        )
    if rec["company_id"] is not None and rec["company_id"] != company_id:
        raise PayloadError(
            "data.company_id differs from company_id", {"data.company_id": ["does not match company_id"]}
        )
    return company_id


def _status(verb: str, rec: dict[str, Any], warnings: list[str]) -> BookingStatus:
    """Deletion wins over attendance (YCLIENTS has no "cancelled" attendance: cancelling deletes)."""
    if verb == "delete" or rec["deleted"]:
        return BookingStatus.CANCELLED
    attendance = rec["attendance"]
    if attendance not in ATTENDANCE_STATUS:
        warnings.append(f"data.attendance: unmapped value {attendance!r}, treated as scheduled")
        return BookingStatus.SCHEDULED
    return ATTENDANCE_STATUS[attendance]


def _staff(rec: dict[str, Any]) -> Staff | None:
    staff = rec["staff"] or {}
    staff_id = rec["staff_id"] if rec["staff_id"] not in (None, "0") else staff.get("id")
    if staff_id in (None, "0"):
        return None
    return Staff(external_id=staff_id, name=staff.get("name") or None)


def _services(items: list[dict[str, Any]] | None) -> tuple[ServiceLine, ...]:
    """Record lines carry no category: the job fills it from the service catalog (``YclientsClient.catalog``)."""
    return tuple(
        ServiceLine(
            external_id=item["id"],
            title=item["title"] or item["id"],
            category=None,
            price=Decimal(str(item["cost"])) if item["cost"] is not None else None,
            quantity=item["amount"] or 1,
        )
        for item in items or ()
    )


_GOODS_FIELDS = (("goods_transactions", "product"), ("consumables", "material"))
MAX_GOODS_LINES = 200


def _goods(rec: dict[str, Any], warnings: list[str]) -> tuple[tuple[GoodsLine, ...], tuple[str, ...]]:
    """Products sold (``goods_transactions``) and materials used (``consumables``), and the kinds the record
    carried at all: a record without ``consumables`` says nothing about them (they come only on request).

    A line is a storage operation: ``good`` {id, title}, ``amount`` (units, negative for a write-off),
    ``cost`` (its money after discount, else ``cost_per_unit`` × units), ``unit`` / ``sale_unit`` /
    ``service_unit`` {title}. Deleted lines are left out; a line without a title or with an unreadable number
    is dropped with a warning rather than the whole record refused.
    """
    lines: list[GoodsLine] = []
    reported: list[str] = []
    for name, kind in _GOODS_FIELDS:
        items = rec[name]
        if items is None:
            continue
        if not isinstance(items, list):
            warnings.append(f"data.{name}: expected a list, ignored")
            continue
        reported.append(kind)
        for i, item in enumerate(items[:MAX_GOODS_LINES]):
            line = _goods_line(item, kind)
            if isinstance(line, str):
                warnings.append(f"data.{name}.{i}: {line}, dropped")
            elif line is not None:
                lines.append(line)
    return tuple(lines), tuple(reported)


def _goods_line(item: Any, kind: str) -> GoodsLine | str | None:
    if not isinstance(item, dict):
        return "not an object"
    if item.get("deleted"):
        return None
    good = item.get("good") if isinstance(item.get("good"), dict) else {}
    title = _text(good.get("title")) or _text(item.get("title")) or _text(item.get("good_title"))
    if title is None:
        return "no title"
    try:
        units = abs(_number(item.get("amount"), Decimal(1)))
        per_unit = _number(item.get("cost_per_unit"), None)
        cost = _number(item.get("cost"), None)
    except ArithmeticError:
        return "not a number"
    if cost is None and per_unit is not None:
        cost = per_unit * units
    unit_keys = ("sale_unit", "unit") if kind == "product" else ("service_unit", "unit")
    unit = next((_text(item[k].get("title")) for k in unit_keys if isinstance(item.get(k), dict)
                 and _text(item[k].get("title"))), None)
    good_id = good.get("id") if good.get("id") not in (None, "", 0) else item.get("good_id")
    return GoodsLine(kind=kind, title=title[:200], quantity=units or Decimal(1),
                     amount=abs(cost).quantize(Decimal("0.01")) if cost is not None else None,
                     unit=unit[:32] if unit else None, external_id=_text(good_id))


def _number(value: Any, default: Decimal | None) -> Decimal | None:
    """A number sent as int, float or string (``"1,5"`` too); ``ArithmeticError`` when it is none."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ArithmeticError(value)
    number = Decimal(str(value).strip().replace(",", "."))
    if not number.is_finite() or abs(number) >= Decimal("1e10"):
        raise ArithmeticError(value)
    return number


def _client(data: dict[str, Any] | None, country: str, warnings: list[str]) -> ClientInfo | None:
    if not data:
        return None
    full_name = " ".join(p for p in (data["name"], data["surname"]) if p).strip()
    phone = to_e164(_text(data["phone"]), country)
    if phone is None and _text(data["phone"]):
        warnings.append(f"data.client.phone: not a valid phone number for {country}, dropped")
    email = normalize_email(_text(data["email"]))
    if email is None and _text(data["email"]):
        warnings.append("data.client.email: not a valid address, dropped")
    client = ClientInfo(
        external_id=data["id"] if data["id"] not in (None, "0") else None,
        name=data["display_name"] or full_name or None,
        phone=phone,
        email=email,
        birthday=parse_birthday(data["birthday"]),
        tags=_tags(data["client_tags"]),
        gender=_GENDER.get(str(data["sex"] if data["sex"] not in (None, "") else data["sex_id"])),
    )
    if not (client.external_id or client.name or client.phone or client.email):
        return None
    return client


_GENDER = {"1": "male", "2": "female"}


def _tags(items: list[Any] | None) -> tuple[str, ...]:
    titles = (item.get("title") if isinstance(item, dict) else item for item in items or ())
    return tuple(str(t) for t in titles if isinstance(t, str | int) and str(t).strip())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------------------------------------
# REST client


def record_as_webhook(record: dict[str, Any], company_id: str | int | None = None) -> dict[str, Any]:
    """Wrap a polled record in the webhook envelope so catch-up reuses ``normalize_record`` unchanged."""
    return {
        "company_id": company_id if company_id is not None else record.get("company_id"),
        "resource": "record",
        "resource_id": record.get("id"),
        "status": "delete" if record.get("deleted") else "update",
        "data": record,
    }


class YclientsError(SourceApiError):
    """The API answered with an error (``status`` None: no answer at all — timeout, connection)."""

    def __init__(self, status: int | None, message: str):
        super().__init__(f"YCLIENTS {status or 'no response'}: {message}")
        self.status = status
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class YclientsRateLimited(YclientsError):
    """429: wait ``retry_after`` seconds (the limit is 200/min or 5/s per IP)."""

    def __init__(self, retry_after: float, message: str = "rate limited"):
        super().__init__(429, message)
        self.retry_after = retry_after


class YclientsClient:
    """Minimal YCLIENTS/Altegio REST client: the service catalog, the changed-records feed, and the two
    writes a prepayment needs (a comment on a record, a record cancelled).

    Tokens only ever go into the Authorization header; they are not logged and not in ``repr``.
    """

    ACCEPT = "application/vnd.api.v2+json"
    DEFAULT_RETRY_AFTER = 60.0

    def __init__(
        self,
        api_url: str,
        partner_token: str,
        user_token: str | None,
        *,
        timeout: float | tuple[float, float] = (3.05, 15),
        session: requests.Session | None = None,
        tz: tzinfo | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self.tz = tz  # the salon's zone: YCLIENTS reads ``changed_after`` as local wall time
        self.timeout = timeout
        self._session = session or requests.Session()
        auth = f"Bearer {partner_token}" + (f", User {user_token}" if user_token else "")
        self._headers = {"Authorization": auth, "Accept": self.ACCEPT, "Content-Type": "application/json"}

    def __repr__(self) -> str:
        return f"YclientsClient({self.api_url!r}, tokens=<redacted>)"

    def close(self) -> None:
        self._session.close()

    # -- catalog ------------------------------------------------------------------------------------------

    def services(self, company_id: str | int) -> list[ServiceInfo]:
        data, _ = self._get(f"/company/{company_id}/services")
        return [
            ServiceInfo(str(s["id"]), str(s.get("title") or s["id"]), _opt_id(s.get("category_id")))
            for s in _items(data)
            if s.get("id") is not None
        ]

    def categories(self, company_id: str | int) -> dict[str, str]:
        data, _ = self._get(f"/company/{company_id}/service_categories")
        return {str(c["id"]): str(c.get("title") or "") for c in _items(data) if c.get("id") is not None}

    def catalog(self, company_id: str | int) -> list[ServiceInfo]:
        """Services with their category title, which record webhooks lack (spec/booking.md §1.6)."""
        titles = self.categories(company_id)
        return [
            ServiceInfo(s.id, s.title, s.category_id, titles.get(s.category_id or "") or None)
            for s in self.services(company_id)
        ]

    # -- records ------------------------------------------------------------------------------------------

    def records_changed_since(
        self, company_id: str | int, since: datetime, *, count: int = 100, tz: tzinfo | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record changed after ``since`` (deleted ones included), page by page, as webhook ``data``.

        YCLIENTS reads ``changed_after`` as the location's wall time: pass ``tz`` (the tenant's zone) and
        an aware ``since`` is converted first; a naive ``since`` is sent as is. Callers should overlap
        windows by a few minutes: the dedupe key makes re-seen snapshots free.
        """
        if tz is not None and since.tzinfo is not None:
            since = since.astimezone(tz)
        params: dict[str, Any] = {
            "changed_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
            "with_deleted": 1,
            "include_consumables": 1,  # the materials a visit used (goods_transactions come anyway)
            "count": count,
        }
        page, seen = 1, 0
        while True:
            data, meta = self._get(f"/records/{company_id}", params={**params, "page": page})
            records = _items(data)
            yield from records
            seen += len(records)
            total = meta.get("total_count") if isinstance(meta, dict) else None
            if not records or len(records) < count or (isinstance(total, int) and seen >= total):
                return
            page += 1

    def records_page(self, company_id: str | int, since: datetime, page: int, *, count: int = 100,
                     tz: tzinfo | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """One page of the changed-records feed (deleted ones included) and the feed's total, if given."""
        if tz is not None and since.tzinfo is not None:
            since = since.astimezone(tz)
        params = {"changed_after": since.strftime("%Y-%m-%dT%H:%M:%S"), "with_deleted": 1,
                  "include_consumables": 1, "count": count, "page": page}
        data, meta = self._get(f"/records/{company_id}", params=params)
        total = meta.get("total_count") if isinstance(meta, dict) else None
        return _items(data), total if isinstance(total, int) else None

    def changes_since(self, branch_id: str, since: datetime) -> Iterator[dict[str, Any]]:
        """The catch-up poller's view: every record changed after ``since``, wrapped as a webhook body."""
        for record in self.records_changed_since(branch_id, since, tz=self.tz):
            yield record_as_webhook(record)

    record_as_webhook = staticmethod(record_as_webhook)

    # -- writes (what a prepayment tells the booking system) -----------------------------------------------

    # The fields ``PUT /record`` needs back: it replaces the whole record and answers 422 without them.
    _PUT_FIELDS = ("staff_id", "services", "client", "datetime", "seance_length", "comment", "attendance",
                   "save_if_busy", "sms_remain_hours", "email_remain_hours", "custom_fields", "record_labels", "api_id")

    def record(self, company_id: str | int, record_id: str | int) -> dict[str, Any]:
        data, _ = self._send("GET", f"/record/{company_id}/{record_id}")
        if not isinstance(data, dict):
            raise YclientsError(None, "the record came back empty")
        return data

    def add_comment(self, branch_id: str, booking_id: str, text: str) -> None:
        """GET the record, append ``text`` to its comment, PUT it back whole (YCLIENTS replaces the record
        on PUT), with ``send_sms`` off so the client gets no message from YCLIENTS about it. A comment that
        already carries the text is left alone, so a retried command writes it once."""
        current = self.record(branch_id, booking_id)
        comment = str(current.get("comment") or "")
        if text in comment:
            return
        body = {k: current[k] for k in self._PUT_FIELDS if current.get(k) is not None}
        body["staff_id"] = current.get("staff_id") or (current.get("staff") or {}).get("id")
        body["services"] = [{k: s[k] for k in ("id", "first_cost", "discount", "cost", "amount") if k in s}
                            for s in current.get("services") or [] if isinstance(s, dict)]
        body["client"] = {k: v for k, v in (current.get("client") or {}).items()
                          if k in ("id", "phone", "name", "surname", "email")}
        body["datetime"] = current.get("datetime") or current.get("date")
        body["seance_length"] = current.get("seance_length") or current.get("length")
        body["comment"] = f"{comment}\n{text}" if comment else text
        body["send_sms"] = False
        self._send("PUT", f"/record/{branch_id}/{booking_id}", body)

    def cancel(self, branch_id: str, booking_id: str) -> None:
        """``DELETE /record``: YCLIENTS has no cancelled status, a cancelled record is a deleted one. A record
        already gone (404) counts as cancelled."""
        try:
            self._send("DELETE", f"/record/{branch_id}/{booking_id}")
        except YclientsError as exc:
            if exc.status != 404:
                raise

    # -- transport ----------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, Any]:
        return self._send("GET", path, params=params)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> tuple[Any, Any]:
        url = self.api_url + path
        try:
            resp = self._session.request(method, url, params=params, json=body, headers=self._headers,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise YclientsError(None, f"{type(exc).__name__} on {method} {path}") from exc
        log.debug("yclients %s %s page=%s -> %s", method, path, (params or {}).get("page"), resp.status_code)
        if method == "DELETE" and resp.status_code == 204:
            return None, None
        body = _json(resp)
        if resp.status_code == 429:
            raise YclientsRateLimited(_retry_after(resp, self.DEFAULT_RETRY_AFTER), _message(body, resp))
        if resp.status_code >= 400 or not isinstance(body, dict) or body.get("success") is False:
            raise YclientsError(resp.status_code, _message(body, resp))
        return body.get("data"), body.get("meta")


def _items(data: Any) -> list[dict[str, Any]]:
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def _opt_id(value: Any) -> str | None:
    return None if value in (None, "", 0, "0") else str(value)


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _message(body: Any, resp: requests.Response) -> str:
    meta = body.get("meta") if isinstance(body, dict) else None
    if isinstance(meta, dict):
        if meta.get("message"):
            return str(meta["message"])
        if meta.get("errors"):
            return str(meta["errors"])[:500]
    return resp.reason or f"HTTP {resp.status_code}"


def _retry_after(resp: requests.Response, default: float) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return default


def api_client(tenant: Tenant) -> YclientsClient | None:
    """The tenant's YCLIENTS API client, or None when it names no API credentials (or they are unset)."""
    if tenant.booking.kind != SOURCE:
        return None
    partner, user = tenant.secret(tenant.booking.partner_token_env), tenant.secret(tenant.booking.user_token_env)
    if not (partner and user):
        return None
    return YclientsClient(tenant.booking.api_url, partner, user, tz=tenant.timezone)


YCLIENTS = Source(SOURCE, normalize_record, poller=api_client, catalog=api_client, writer=api_client,
                  label="YCLIENTS")
