"""YCLIENTS/Altegio record webhook → VisitEvent (spec/booking.md §1.6, §1.7, §6.3)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.booking.errors import BookingInputError, IgnoredResource, PayloadError
from bridge.booking.parsing import localize
from bridge.booking.yclients import normalize_record, record_as_webhook
from config.tenants import Tenant, TenantSchema
from pipelines.events import BookingStatus, ClientInfo, ServiceLine, Staff, VisitEvent
from tests.helpers import make_tenant as tenant_for

RECEIVED = datetime(2026, 12, 1, 10, 45, tzinfo=UTC)


def make_tenant(timezone: str = "Europe/Kyiv", country: str = "UA") -> Tenant:
    return tenant_for("yclients", timezone, country)


KYIV = make_tenant()
MOSCOW = make_tenant("Europe/Moscow", "RU")


def webhook(status: str = "update", **data: Any) -> dict[str, Any]:
    """The §1.6 example, trimmed; ``data`` keys override (``None`` values delete the key)."""
    record: dict[str, Any] = {
        "id": 500000001,
        "company_id": 111111,
        "staff_id": 2222,
        "services": [
            {"id": 3333, "title": "Манікюр + гель-лак", "cost": 650, "first_cost": 700, "discount": 7.14, "amount": 1},
            {"id": 4444, "title": "Дизайн", "cost": 99.9, "amount": 2},
        ],
        "staff": {"id": 2222, "name": "Анна", "position": {"id": 44, "title": "Майстер"}},
        "client": {
            "id": 777777,
            "name": "Ольга",
            "surname": "Коваль",
            "display_name": "Ольга Коваль",
            "phone": "380671234567",
            "email": "Olga@Example.com",
            "birthday": "1990-05-17",
            "client_tags": [{"id": 1, "title": "VIP"}, {"id": 2, "title": "Instagram"}],
            "custom_fields": [],
        },
        "date": "2026-12-01 12:00:00",
        "datetime": "2026-12-01T12:00:00+02:00",
        "create_date": "2026-11-20T10:15:00+0200",
        "last_change_date": "2026-12-01T13:40:12+0200",
        "comment": "",
        "online": True,
        "attendance": 0,
        "confirmed": 1,
        "seance_length": 5400,
        "length": 5400,
        "visit_id": 400000001,
        "deleted": False,
        "custom_fields": [],
        "documents": [{"id": 600000001, "type_id": 7}],
    }
    for key, value in data.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return {"company_id": 111111, "resource": "record", "resource_id": 500000001, "status": status, "data": record}


def normalize(body: dict[str, Any], tenant: Tenant = KYIV) -> VisitEvent:
    return normalize_record(body, tenant, RECEIVED)


def problem_fields(body: Any, tenant: Tenant = KYIV) -> dict[str, list[str]]:
    with pytest.raises(PayloadError) as info:
        normalize_record(body, tenant, RECEIVED)
    return info.value.fields


# -- the whole mapping ------------------------------------------------------------------------------------


def test_full_record_maps_every_field() -> None:
    event = normalize(webhook(attendance=1))
    assert event.tenant == "salon" and event.source == "yclients"
    assert event.source_event == "record:update"
    assert event.occurred_at == datetime(2026, 12, 1, 11, 40, 12, tzinfo=UTC)
    b = event.booking
    assert b.external_id == "500000001"
    assert b.status is BookingStatus.COMPLETED
    assert b.start_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert b.start_at.utcoffset() == timedelta(hours=2)
    assert b.duration_min == 90
    assert b.branch == "111111"
    assert b.staff == Staff("2222", "Анна")
    assert b.services == (
        ServiceLine("3333", "Манікюр + гель-лак", None, Decimal("650"), 1),
        ServiceLine("4444", "Дизайн", None, Decimal("99.9"), 2),
    )
    assert b.total_price == Decimal("749.9")
    assert b.channel == "online"
    assert b.created_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert b.comment is None
    assert event.client == ClientInfo(
        external_id="777777",
        name="Ольга Коваль",
        phone="+380671234567",
        email="olga@example.com",
        birthday=date(1990, 5, 17),
        tags=("VIP", "Instagram"),
    )
    assert event.extra == {"visit_id": "400000001", "attendance": 1}


def test_event_survives_the_json_round_trip() -> None:
    event = normalize(webhook(attendance=7))
    assert VisitEvent.from_dict(event.to_dict()) == event


def test_synthetic_salon_deliveries_all_normalize() -> None:
    import yaml

    from salonbridge import synthetic

    tenant = TenantSchema().load(
        yaml.safe_load(synthetic.tenant_yaml("demo", "DEMO_TOKEN", "http://127.0.0.1:8001", "DEMO_AMO_TOKEN"))
    )
    bodies = synthetic.generate(seed=3, clients=8, today=date(2026, 11, 1))
    events = [normalize_record(body, tenant, RECEIVED) for body in bodies]
    assert len({e.dedupe_key for e in events}) == len(events)
    assert {e.booking.status for e in events} >= {BookingStatus.SCHEDULED, BookingStatus.COMPLETED}


# -- status ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attendance", "status"),
    [
        (1, BookingStatus.COMPLETED),
        (-1, BookingStatus.NO_SHOW),
        (2, BookingStatus.CONFIRMED),
        (0, BookingStatus.SCHEDULED),
        ("1", BookingStatus.COMPLETED),
        ("-1", BookingStatus.NO_SHOW),
    ],
)
def test_attendance_maps_to_status(attendance: Any, status: BookingStatus) -> None:
    event = normalize(webhook(attendance=attendance))
    assert event.booking.status is status
    assert "warnings" not in event.extra


@pytest.mark.parametrize("attendance", [3, -2, 99])
def test_unknown_attendance_is_scheduled_with_a_warning(attendance: int) -> None:
    event = normalize(webhook(attendance=attendance))
    assert event.booking.status is BookingStatus.SCHEDULED
    assert any(w.startswith("data.attendance") for w in event.extra["warnings"])


def test_missing_attendance_is_scheduled() -> None:
    assert normalize(webhook(attendance=None)).booking.status is BookingStatus.SCHEDULED
    body = webhook()
    body["data"]["attendance"] = None
    assert normalize(body).booking.status is BookingStatus.SCHEDULED


@pytest.mark.parametrize("attendance", [1, -1, 2, 0])
def test_delete_status_takes_precedence_over_attendance(attendance: int) -> None:
    event = normalize(webhook("delete", attendance=attendance))
    assert event.booking.status is BookingStatus.CANCELLED
    assert event.source_event == "record:delete"


@pytest.mark.parametrize("deleted", [True, 1, "true"])
def test_deleted_flag_takes_precedence_over_attendance(deleted: Any) -> None:
    assert normalize(webhook("update", attendance=1, deleted=deleted)).booking.status is BookingStatus.CANCELLED


def test_not_deleted_flag_keeps_attendance() -> None:
    assert normalize(webhook(attendance=1, deleted=0)).booking.status is BookingStatus.COMPLETED


# -- client -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", [None, {}, [], ""])
def test_missing_or_empty_client_is_none(client: Any) -> None:
    body = webhook()
    body["data"]["client"] = client
    assert normalize(body).client is None


def test_client_without_anything_identifying_is_none() -> None:
    assert normalize(webhook(client={"id": 0, "name": "", "phone": "", "email": ""})).client is None


@pytest.mark.parametrize(
    ("raw", "tenant", "expected"),
    [
        ("+380671234567", KYIV, "+380671234567"),
        ("380671234567", KYIV, "+380671234567"),
        ("0671234567", KYIV, "+380671234567"),
        ("+38 (067) 123-45-67", KYIV, "+380671234567"),
        (380671234567, KYIV, "+380671234567"),
        ("79161234567", MOSCOW, "+79161234567"),
        ("89161234567", MOSCOW, "+79161234567"),
        ("+7 916 123-45-67", MOSCOW, "+79161234567"),
    ],
)
def test_client_phone_is_e164_in_the_tenant_country(raw: Any, tenant: Tenant, expected: str) -> None:
    event = normalize(webhook(client={"id": 1, "name": "A", "phone": raw}), tenant)
    assert event.client is not None and event.client.phone == expected


def test_invalid_phone_and_email_are_dropped_with_warnings_naming_no_data() -> None:
    event = normalize(webhook(client={"id": 1, "name": "A", "phone": "12-34", "email": "olga(at)mail"}))
    assert event.client is not None
    assert (event.client.phone, event.client.email) == (None, None)
    warnings = event.extra["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["data.client.phone", "data.client.email"]
    assert not any("12-34" in w or "olga" in w for w in warnings)


@pytest.mark.parametrize(
    ("birthday", "expected"),
    [("1990-05-17", date(1990, 5, 17)), ("17.05.1990", date(1990, 5, 17)), ("", None), ("0000-00-00", None)],
)
def test_client_birthday_when_parseable(birthday: str, expected: date | None) -> None:
    event = normalize(webhook(client={"id": 1, "birthday": birthday}))
    assert event.client is not None and event.client.birthday == expected


def test_client_name_falls_back_to_name_and_surname() -> None:
    event = normalize(webhook(client={"id": 1, "name": "Ольга", "surname": "Коваль", "display_name": ""}))
    assert event.client is not None and event.client.name == "Ольга Коваль"


# -- times ----------------------------------------------------------------------------------------------


def test_offsets_without_colon_are_parsed() -> None:
    event = normalize(webhook(last_change_date="2026-12-01T13:40:12+0300", create_date="2026-11-20T10:15:00+0500"))
    assert event.occurred_at == datetime(2026, 12, 1, 10, 40, 12, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=3)
    assert event.booking.created_at == datetime(2026, 11, 20, 5, 15, tzinfo=UTC)


def test_occurred_at_falls_back_to_create_date_then_received_at() -> None:
    event = normalize(webhook(last_change_date=None))
    assert event.occurred_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert normalize(webhook(last_change_date=None, create_date=None)).occurred_at == RECEIVED


@pytest.mark.parametrize(
    ("tenant", "local", "utc"),
    [
        (KYIV, "2026-12-01 12:00:00", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),  # winter, +02:00
        (KYIV, "2026-07-01 12:00:00", datetime(2026, 7, 1, 9, 0, tzinfo=UTC)),  # summer, +03:00
        (MOSCOW, "2026-12-01 12:00:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),  # always +03:00
        (MOSCOW, "2026-07-01 12:00:00", datetime(2026, 7, 1, 9, 0, tzinfo=UTC)),
    ],
)
def test_local_date_is_read_in_the_tenant_zone(tenant: Tenant, local: str, utc: datetime) -> None:
    assert normalize(webhook(date=local, datetime=None), tenant).booking.start_at == utc


def test_spring_forward_gap_moves_forward_by_the_gap() -> None:
    # Kyiv, 2026-03-29: 03:00 EET → 04:00 EEST; 03:30 does not exist and becomes 04:30 (+03:00).
    start = normalize(webhook(date="2026-03-29 03:30:00", datetime=None)).booking.start_at
    assert start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert (start.hour, start.minute, start.utcoffset()) == (4, 30, timedelta(hours=3))


def test_fall_back_ambiguous_time_takes_the_first_occurrence() -> None:
    # Kyiv, 2026-10-25: 04:00 EEST → 03:00 EET; 03:30 happens twice, the first (+03:00) is taken.
    start = normalize(webhook(date="2026-10-25 03:30:00", datetime=None)).booking.start_at
    assert start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert start.utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize("local", ["2026-03-29 02:30:00", "2026-10-25 02:30:00", "2026-03-29 03:30:00"])
def test_moscow_has_no_dst(local: str) -> None:
    start = normalize(webhook(date=local, datetime=None), MOSCOW).booking.start_at
    assert start.utcoffset() == timedelta(hours=3)
    assert start.replace(tzinfo=None) == datetime.fromisoformat(local)


def test_date_wins_over_a_datetime_with_a_wrong_offset() -> None:
    event = normalize(webhook(date="2026-12-01 12:00:00", datetime="2026-12-01T12:00:00+03:00"))
    assert event.booking.start_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_datetime_is_the_fallback_and_keeps_its_offset() -> None:
    event = normalize(webhook(date=None, datetime="2026-12-01T12:00:00+05:00"))
    assert event.booking.start_at == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def test_date_with_an_offset_is_taken_as_is() -> None:
    event = normalize(webhook(date="2026-12-01T12:00:00+0100", datetime=None))
    assert event.booking.start_at == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31)))
def test_localize_keeps_wall_time_or_shifts_forward_by_the_gap(naive: datetime) -> None:
    aware = localize(naive, KYIV.timezone)
    shift = aware.replace(tzinfo=None) - naive
    assert aware.utcoffset() in (timedelta(hours=2), timedelta(hours=3))
    assert shift in (timedelta(0), timedelta(hours=1))


# -- dedupe key -------------------------------------------------------------------------------------------


def test_dedupe_key_is_stable_and_sha256() -> None:
    first, second = normalize(webhook()), normalize(copy.deepcopy(webhook()))
    assert first.dedupe_key == second.dedupe_key
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first.dedupe_key)


def test_dedupe_key_changes_with_last_change_date_status_company_and_record() -> None:
    base = normalize(webhook()).dedupe_key
    assert normalize(webhook(last_change_date="2026-12-01T13:40:13+0200")).dedupe_key != base
    assert normalize(webhook("delete")).dedupe_key != base
    other_branch = webhook(company_id=111112)
    other_branch["company_id"] = 111112
    assert normalize(other_branch).dedupe_key != base
    other_record = webhook(id=500000002)
    other_record["resource_id"] = 500000002
    assert normalize(other_record).dedupe_key != base


def test_dedupe_key_ignores_offset_spelling_and_unrelated_fields() -> None:
    base = normalize(webhook()).dedupe_key
    assert normalize(webhook(last_change_date="2026-12-01T13:40:12+02:00")).dedupe_key == base
    assert normalize(webhook(comment="changed")).dedupe_key == base


def test_polled_record_gets_the_webhook_key() -> None:
    live = webhook("update", attendance=1)
    polled = record_as_webhook(copy.deepcopy(live["data"]))
    assert polled["status"] == "update"
    assert normalize(polled).dedupe_key == normalize(live).dedupe_key


def test_polled_deleted_record_is_a_delete() -> None:
    polled = record_as_webhook(webhook(deleted=True)["data"], company_id="111111")
    assert polled["status"] == "delete"
    assert normalize(polled).booking.status is BookingStatus.CANCELLED


# -- validation -------------------------------------------------------------------------------------------


def test_unknown_company_id_is_a_payload_error_naming_it() -> None:
    body = webhook(company_id=999)
    body["company_id"] = 999
    fields = problem_fields(body)
    assert list(fields) == ["company_id"]
    assert "999" in fields["company_id"][0]


def test_data_company_id_must_match_the_envelope() -> None:
    assert "data.company_id" in problem_fields(webhook(company_id=111112))


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b.pop("company_id"), "company_id"),
        (lambda b: b.pop("status"), "status"),
        (lambda b: b.pop("resource"), "resource"),
        (lambda b: b.pop("data"), "data"),
        (lambda b: b.update(data="nope"), "data._schema"),
        (lambda b: b["data"].pop("id"), "data.id"),
        (lambda b: b["data"].update(id=""), "data.id"),
        (lambda b: (b["data"].pop("date"), b["data"].pop("datetime")), "data.date"),
        (lambda b: b["data"].update(date="01.12.2026 12:00"), "data.date"),
        (lambda b: b["data"].update(last_change_date="yesterday"), "data.last_change_date"),
        (lambda b: b["data"]["services"][1].pop("id"), "data.services.1.id"),
        (lambda b: b["data"]["services"][0].update(cost="free"), "data.services.0.cost"),
        (lambda b: b["data"].update(attendance="came"), "data.attendance"),
    ],
)
def test_malformed_webhooks_name_the_field(mutate: Any, path: str) -> None:
    body = webhook()
    mutate(body)
    assert path in problem_fields(body)


def test_non_object_body_is_a_payload_error() -> None:
    assert problem_fields(["not", "a", "dict"]) == {"_schema": ["Invalid input type."]}


@pytest.mark.parametrize("resource", ["client", "service", "service_category", "schedule", "goods_operations_sale"])
def test_other_resources_are_ignored_before_validation(resource: str) -> None:
    body = {"company_id": 424242, "resource": resource, "resource_id": 1, "status": "update", "data": []}
    with pytest.raises(IgnoredResource) as info:
        normalize(body)
    assert info.value.resource == resource
    assert isinstance(info.value, BookingInputError) and info.value.http_status == 202
    assert not isinstance(info.value, PayloadError)


def test_payload_error_is_a_422_with_json_shape() -> None:
    with pytest.raises(PayloadError) as info:
        normalize(webhook(id=None))
    assert info.value.http_status == 422
    assert info.value.to_dict() == {"error": "invalid YCLIENTS record webhook", "fields": info.value.fields}
    assert "data.id" in info.value.describe()


def test_naive_received_at_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        normalize_record(webhook(), KYIV, datetime(2026, 12, 1, 10, 45))


# -- the rest of the booking ------------------------------------------------------------------------------


def test_admin_booking_without_staff_services_or_length() -> None:
    event = normalize(
        webhook(online=False, staff_id=0, staff=[], services=[], seance_length=None, length=None, comment="Кава")
    )
    b = event.booking
    assert (b.channel, b.staff, b.services, b.total_price, b.duration_min) == ("admin", None, (), None, None)
    assert b.comment == "Кава"


def test_service_details_fallbacks() -> None:
    event = normalize(
        webhook(services=[{"id": 5, "title": "", "cost": None, "amount": 0}], seance_length=None, length=3600)
    )
    assert event.booking.services == (ServiceLine("5", "5", None, None, 1),)
    assert event.booking.duration_min == 60


def test_staff_from_the_staff_object_when_staff_id_is_missing() -> None:
    assert normalize(webhook(staff_id=None)).booking.staff == Staff("2222", "Анна")
