"""Our generic JSON booking event → VisitEvent, its 422s, and the JSON Schema published for it."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from marshmallow import ValidationError

from bridge.booking.errors import PayloadError
from bridge.booking.generic import GenericEventSchema, normalize_generic
from config.tenants import Tenant
from pipelines.events import BookingStatus, ClientInfo, ServiceLine, Staff, VisitEvent
from tests.helpers import make_tenant as tenant_for
from webhooks.openapi import build

DOC = Path(__file__).resolve().parents[2] / "docs" / "generic-events.md"
RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def make_tenant(timezone: str = "Europe/Kyiv", country: str = "UA") -> Tenant:
    return tenant_for("generic", timezone, country)


TENANT = make_tenant()


def doc_examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [json.loads(block) for block in blocks]


def full_event() -> dict[str, Any]:
    return copy.deepcopy(doc_examples()[0])


def minimal_event() -> dict[str, Any]:
    return {
        "event_id": "b-17-1",
        "occurred_at": "2026-12-01T09:00:00Z",
        "booking": {
            "id": "b-17",
            "status": "scheduled",
            "start_at": "2026-12-05T15:30:00+02:00",
            "services": [{"id": "1", "title": "Стрижка"}],
        },
    }


def normalize(body: dict[str, Any], tenant: Tenant = TENANT) -> VisitEvent:
    return normalize_generic(body, tenant, RECEIVED)


def problem_fields(body: Any) -> dict[str, list[str]]:
    with pytest.raises(PayloadError) as info:
        normalize(body)
    return info.value.fields


def test_documented_example_maps_every_field() -> None:
    event = normalize(full_event())
    assert (event.tenant, event.source, event.dedupe_key) == ("salon", "generic", "A-1029:v3")
    assert event.source_event == "booking:completed"
    assert event.occurred_at == datetime(2026, 12, 1, 11, 40, 12, tzinfo=UTC)
    b = event.booking
    assert (b.external_id, b.status, b.duration_min, b.branch) == ("A-1029", BookingStatus.COMPLETED, 90, "111111")
    assert b.start_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert b.start_at.utcoffset() == timedelta(hours=2)
    assert b.staff == Staff("12", "Анна")
    assert b.services == (
        ServiceLine("S-3", "Манікюр + гель-лак", "Манікюр", Decimal("650.00"), 1),
        ServiceLine("S-9", "Дизайн нігтів", None, Decimal("100"), 1),
    )
    assert b.total_price == Decimal("750.00")
    assert (b.channel, b.comment) == ("online", "Просила ту ж майстриню")
    assert b.created_at == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert event.client == ClientInfo(
        "C-77", "Ольга Коваль", "+380671234567", "olga@example.com", date(1990, 5, 17), ("VIP",)
    )
    assert event.extra == {"meta": {"exported_by": "my-salon-app 2.4"}}


@pytest.mark.parametrize("example", doc_examples(), ids=["full", "minimal"])
def test_every_documented_example_is_valid(example: dict[str, Any]) -> None:
    event = normalize(example)
    assert VisitEvent.from_dict(event.to_dict()) == event


def test_minimal_event_defaults() -> None:
    event = normalize(minimal_event())
    b = event.booking
    assert (b.branch, b.channel, b.staff, b.duration_min, b.total_price, b.created_at) == (
        "111111",
        "unknown",
        None,
        None,
        None,
        None,
    )
    assert b.services == (ServiceLine("1", "Стрижка"),)
    assert event.client is None and event.extra == {}


@pytest.mark.parametrize("status", [s.value for s in BookingStatus])
def test_every_status_is_accepted(status: str) -> None:
    body = minimal_event()
    body["booking"]["status"] = status
    assert normalize(body).booking.status == BookingStatus(status)


# -- 422s name the field --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "event_id",
        "occurred_at",
        "booking",
        "booking.id",
        "booking.status",
        "booking.start_at",
        "booking.services",
        "booking.services.0.id",
        "booking.services.0.title",
        "booking.staff.id",
    ],
)
def test_each_missing_required_field_is_named(path: str) -> None:
    body = minimal_event()
    body["booking"]["staff"] = {"id": "12", "name": "Анна"}
    *parents, leaf = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    del node[leaf]
    assert problem_fields(body) == {path: ["Missing data for required field."]}


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b["booking"].update(status="done"), "booking.status"),
        (lambda b: b["booking"].update(status="CANCELLED"), "booking.status"),
        (lambda b: b.update(occurred_at="2026-12-01T09:00:00"), "occurred_at"),
        (lambda b: b.update(occurred_at="yesterday"), "occurred_at"),
        (lambda b: b.update(event_id=""), "event_id"),
        (lambda b: b.update(event_id="x" * 129), "event_id"),
        (lambda b: b["booking"].update(start_at="05.12.2026 15:30"), "booking.start_at"),
        (lambda b: b["booking"].update(start_at="2026-12-05"), "booking.start_at"),
        (lambda b: b["booking"].update(services=[]), "booking.services"),
        (lambda b: b["booking"]["services"][0].update(title=""), "booking.services.0.title"),
        (lambda b: b["booking"]["services"][0].update(price=-1), "booking.services.0.price"),
        (lambda b: b["booking"]["services"][0].update(price="cheap"), "booking.services.0.price"),
        (lambda b: b["booking"]["services"][0].update(quantity=0), "booking.services.0.quantity"),
        (lambda b: b["booking"].update(duration_min=-5), "booking.duration_min"),
        (lambda b: b["booking"].update(channel="fax"), "booking.channel"),
        (lambda b: b["booking"].update(id="x" * 65), "booking.id"),
        (lambda b: b["booking"].update(id=None), "booking.id"),
        (lambda b: b["booking"].update(branch="999"), "booking.branch"),
        (lambda b: b.update(client={"birthday": "17.05.1990"}), "client.birthday"),
        (lambda b: b.update(bogus=1), "bogus"),
        (lambda b: b["booking"].update(sevices=[]), "booking.sevices"),
        (lambda b: b.update(client={"phnoe": "+380671234567"}), "client.phnoe"),
    ],
)
def test_invalid_values_name_the_field(mutate: Any, path: str) -> None:
    body = minimal_event()
    mutate(body)
    assert path in problem_fields(body)


def test_several_problems_are_reported_together() -> None:
    body = minimal_event()
    body["booking"]["status"] = "done"
    del body["booking"]["services"][0]["title"]
    del body["occurred_at"]
    assert set(problem_fields(body)) == {"booking.status", "booking.services.0.title", "occurred_at"}


def test_non_object_body_is_a_payload_error() -> None:
    assert "_schema" in problem_fields([minimal_event()])


# -- times, branch, contact data -------------------------------------------------------------------------


def test_naive_start_at_is_the_tenant_local_time() -> None:
    body = minimal_event()
    body["booking"]["start_at"] = "2026-07-05T15:30:00"
    assert normalize(body).booking.start_at == datetime(2026, 7, 5, 12, 30, tzinfo=UTC)  # Kyiv summer +03:00
    assert normalize(body, make_tenant("Asia/Almaty", "KZ")).booking.start_at == datetime(
        2026, 7, 5, 10, 30, tzinfo=UTC
    )


def test_start_at_with_an_offset_is_kept() -> None:
    body = minimal_event()
    body["booking"]["start_at"] = "2026-07-05T15:30:00+0500"
    assert normalize(body).booking.start_at == datetime(2026, 7, 5, 10, 30, tzinfo=UTC)


def test_naive_start_at_in_the_spring_gap_moves_forward() -> None:
    body = minimal_event()
    body["booking"]["start_at"] = "2026-03-29 03:30"
    start = normalize(body).booking.start_at
    assert (start.hour, start.minute, start.utcoffset()) == (4, 30, timedelta(hours=3))


def test_explicit_branch_must_be_the_tenants() -> None:
    body = minimal_event()
    body["booking"]["branch"] = "111112"
    assert normalize(body).booking.branch == "111112"
    body["booking"]["branch"] = 111112
    assert normalize(body).booking.branch == "111112"


def test_unusable_phone_and_email_are_dropped_with_warnings() -> None:
    body = minimal_event()
    body["client"] = {"id": 5, "name": " Ольга ", "phone": "12-34", "email": "nope"}
    event = normalize(body)
    assert event.client == ClientInfo(external_id="5", name="Ольга")
    assert [w.split(":")[0] for w in event.extra["warnings"]] == ["client.phone", "client.email"]


def test_empty_client_is_none() -> None:
    for client in ({}, {"name": "", "tags": []}, None):
        body = minimal_event()
        body["client"] = client
        assert normalize(body).client is None


def test_phone_in_the_tenant_country() -> None:
    body = minimal_event()
    body["client"] = {"phone": "8 (916) 123-45-67"}
    event = normalize(body, make_tenant("Europe/Moscow", "RU"))
    assert event.client is not None and event.client.phone == "+79161234567"


# -- the published JSON Schema is generated from the marshmallow schema and agrees with it --------------


def published_validator() -> Draft202012Validator:
    """The GenericEvent schema exactly as /api/openapi.json publishes it (refs into its components)."""
    doc = build(Flask(__name__))
    return Draft202012Validator({"$ref": "#/components/schemas/GenericEvent", "components": doc["components"]})


def _mutations() -> list[tuple[str, dict[str, Any]]]:
    cases = [("full", full_event()), ("minimal", minimal_event())]
    for name, change in (
        ("unknown top field", lambda e: e.update(phnoe="1")),
        ("unknown booking field", lambda e: e["booking"].update(colour="red")),
        ("no booking", lambda e: e.pop("booking")),
        ("no services", lambda e: e["booking"].update(services=[])),
        ("bad status", lambda e: e["booking"].update(status="maybe")),
        ("integer ids", lambda e: e["booking"].update(id=17, branch=None)),
        ("decimal string price", lambda e: e["booking"]["services"][0].update(price="120.50")),
        ("negative price", lambda e: e["booking"]["services"][0].update(price=-1)),
        ("long event id", lambda e: e.update(event_id="x" * 129)),
        ("null client", lambda e: e.update(client=None)),
        ("bad channel", lambda e: e["booking"].update(channel="fax")),
        ("quantity 0", lambda e: e["booking"]["services"][0].update(quantity=0)),
        ("unknown client field", lambda e: e.update(client={"name": "Оля", "vip": True})),
    ):
        body = minimal_event()
        change(body)
        cases.append((name, body))
    return cases


@pytest.mark.parametrize(("name", "body"), _mutations(), ids=[n for n, _ in _mutations()])
def test_published_json_schema_accepts_what_the_marshmallow_schema_accepts(name: str, body: dict[str, Any]) -> None:
    published_ok = published_validator().is_valid(body)
    try:
        GenericEventSchema().load(body)
        ours_ok = True
    except ValidationError:
        ours_ok = False
    assert published_ok == ours_ok, name


def test_published_json_schema_carries_the_descriptions_and_closed_sets() -> None:
    schemas = build(Flask(__name__))["components"]["schemas"]
    event, booking = schemas["GenericEvent"], schemas["Booking"]
    assert event["additionalProperties"] is False and set(event["required"]) == {"event_id", "occurred_at", "booking"}
    assert "dedupe key" in event["properties"]["event_id"]["description"]
    assert booking["properties"]["status"]["enum"] == [s.value for s in BookingStatus]
    assert booking["properties"]["id"]["type"] == ["string", "integer"]
    json.dumps(schemas)
