"""Which category a service line belongs to: one order for every source, each path tested."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bridge.booking.generic import normalize_generic
from bridge.booking.yclients import normalize_record
from pipelines.catalog import (
    CatalogOverrides,
    Listing,
    ServiceRule,
    categories_of,
    match_category,
    periodicity_days,
    with_category,
)
from pipelines.events import ServiceLine
from pipelines.policy import Policy
from tests.helpers import make_tenant, yclients_record

POLICY = dataclasses.replace(
    Policy("salon"),
    catalog=CatalogOverrides.build(
        {"Масаж": 30, "90": 35, "Консультація": None},
        {
            "3333": ServiceRule(category="Манікюр"),
            "Брови + фарбування": ServiceRule(category="Брови"),
            "Пробний візит": ServiceRule(no_repeat=True),
        },
    ),
)
NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def resolved(line: ServiceLine, listing: Listing | None = None) -> tuple[tuple[str, ...], str, int | None]:
    match = match_category(line, POLICY, listing)
    line = with_category(line, match)
    return categories_of(line, POLICY), match.rule, periodicity_days(line, POLICY)


@pytest.mark.parametrize(
    ("line", "listing", "expected"),
    [
        (ServiceLine("3333", "Гель-лак"), None, (("manicure",), "by id", 21)),
        (ServiceLine("1", "Брови + фарбування"), None, (("brows",), "by title", 28)),
        (ServiceLine("2", "Something", category="Педикюр"), None, (("pedicure",), "from the booking system", 28)),
        (ServiceLine("4", "Something"), Listing("4", "Something", "90", "Нігті"),
         (("нігті",), "from the booking catalog", 35)),
        (ServiceLine("5", "Педикюр"), None, (("pedicure",), "by category name", 28)),
        (ServiceLine("6", "Гель лак"), None, (("manicure",), "by category name", 21)),  # an alias
        (ServiceLine("7", "Масаж"), None, (("масаж",), "by category name", 30)),  # the tenant's own category
        (ServiceLine("8", "Mystery"), None, ((), "no match", None)),
    ],
)
def test_each_path_of_the_resolution_order(line, listing, expected):
    assert resolved(line, listing) == expected


def test_the_id_wins_over_the_title_and_the_tenant_over_the_booking_system():
    assert resolved(ServiceLine("3333", "Брови + фарбування", category="Педикюр"))[:2] == (("manicure",), "by id")
    assert resolved(ServiceLine("9", "Педикюр"), Listing("9", "Педикюр", "91", "Вії"))[:2] == (
        ("lashes",), "from the booking catalog")


def test_null_periodicity_means_no_repeat_task():
    assert resolved(ServiceLine("10", "Консультація"))[0] == ("консультація",)
    assert resolved(ServiceLine("10", "Консультація"))[2] is None
    assert periodicity_days(ServiceLine("11", "Пробний візит", category="Манікюр"), POLICY) is None


def test_a_category_is_addressed_by_the_booking_systems_id():
    by_id = ServiceLine("12", "Shellac", category="Манікюр", category_id="90")
    assert periodicity_days(by_id, POLICY) == 35  # the tenant's days for category 90 beat manicure's 21
    assert periodicity_days(dataclasses.replace(by_id, category_id="17"), POLICY) == 21


def test_generic_and_yclients_events_resolve_alike():
    """A service titled with a category name gets that category whatever the source (no catalog entry)."""
    generic = normalize_generic(
        {"event_id": "e1", "occurred_at": "2026-03-01T09:00:00+02:00",
         "booking": {"id": "b1", "status": "completed", "start_at": "2026-03-01T10:00:00",
                     "services": [{"id": "S-9", "title": "Педикюр"}]}},
        make_tenant("yclients"), NOW)
    record = yclients_record()
    record["data"]["services"][0].update(id=9999, title="Педикюр")
    yclients = normalize_record(record, make_tenant("yclients"), NOW)
    for event in (generic, yclients):
        [line] = event.booking.services
        assert resolved(line) == (("pedicure",), "by category name", 28), event.source
