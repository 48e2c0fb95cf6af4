"""Service catalog: category names in RU/UK/EN, periodicity defaults, tenant overrides, packages."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.catalog import (
    DEFAULTS,
    CatalogOverrides,
    ServiceRule,
    booking_categories,
    canonical_category,
    categories_of,
    category_label,
    normalize,
    periodicity_days,
    shortest_periods,
)
from pipelines.events import ServiceLine
from pipelines.policy import Policy

POLICY = Policy("salon")


def with_catalog(categories: dict | None = None, services: dict | None = None) -> Policy:
    return dataclasses.replace(POLICY, catalog=CatalogOverrides.build(categories or {}, services or {}))


@pytest.mark.parametrize(
    ("name", "key", "days"),
    [
        ("Маникюр", "manicure", 21),
        ("МАНІКЮР", "manicure", 21),
        ("manicure", "manicure", 21),
        ("Гель-лак", "manicure", 21),
        ("Классический маникюр", "classic_manicure", 14),
        ("Педикюр", "pedicure", 28),
        ("Коррекция бровей", "brows", 28),
        ("Корекція брів", "brows", 28),
        ("Нарощування вій", "lashes", 21),
        ("Ламинирование ресниц", "lash_lift", 42),
        ("Женская стрижка", "haircut", 42),
        ("Мужская стрижка", "mens_haircut", 28),
        ("Men's haircut", "mens_haircut", 28),
        ("Окрашивание корней", "hair_colour", 42),
        ("Балаяж", "highlights", 75),
        ("Депиляция бикини", "bikini_waxing", 28),
        ("Шугаринг", "waxing", 35),
        ("Депіляція обличчя", "face_waxing", 21),
        ("Чистка лица", "facial", 30),
        ("Лазерна епіляція", "laser", None),
    ],
)
def test_default_categories_in_three_languages(name, key, days):
    line = ServiceLine("s", "Some service", name)
    assert categories_of(line, POLICY) == (key,)
    assert periodicity_days(line, POLICY) == days


def test_every_alias_names_exactly_one_category():
    seen: dict[str, str] = {}
    for row in DEFAULTS:
        for name in (row.key.replace("_", " "), *row.labels, *row.aliases):
            assert seen.setdefault(normalize(name), row.key) == row.key, name


def test_normalize_ignores_case_punctuation_and_yo():
    assert normalize("  Ёлка-Палка, Men’s!  ") == "елка палка mens"


def test_unknown_categories_keep_their_normalized_name_and_have_no_days():
    line = ServiceLine("s", "Massage", "Масаж спини")
    assert categories_of(line, POLICY) == ("масаж спини",)
    assert periodicity_days(line, POLICY) is None
    assert category_label("масаж спини", "uk") == "масаж спини"
    assert category_label("manicure", "uk") == "Манікюр"


def test_a_service_without_category_has_none():
    assert categories_of(ServiceLine("s", "Mystery"), POLICY) == ()
    assert periodicity_days(ServiceLine("s", "Mystery"), POLICY) is None
    assert canonical_category("  ") is None


def test_tenant_overrides_beat_defaults_per_category_then_per_service():
    policy = with_catalog(
        {"Манікюр": 18, "Масаж": 30},
        {
            "3333": ServiceRule(periodicity_days=10),
            "Манікюр японський": ServiceRule(category="Педикюр"),
            "Масаж обличчя": ServiceRule(category="Масаж"),
        },
    )
    assert periodicity_days(ServiceLine("1", "Gel", "Манікюр"), policy) == 18
    assert periodicity_days(ServiceLine("3333", "Gel", "Манікюр"), policy) == 10
    assert categories_of(ServiceLine("9", "Манікюр японський", "Манікюр"), policy) == ("pedicure",)
    assert periodicity_days(ServiceLine("8", "Масаж обличчя"), policy) == 30


def test_a_package_counts_for_each_of_its_categories():
    policy = with_catalog({}, {"combo": ServiceRule(counts_for=("manicure", "pedicure"))})
    combo = ServiceLine("combo", "Manicure + pedicure", "Манікюр")
    assert categories_of(combo, policy) == ("manicure", "pedicure")
    assert periodicity_days(combo, policy, "pedicure") == 28
    assert booking_categories([combo, ServiceLine("h", "Cut", "Стрижка")], policy) == (
        "manicure",
        "pedicure",
        "haircut",
    )


def test_the_shortest_periodicity_wins_within_a_category():
    policy = with_catalog({}, {"classic": ServiceRule(periodicity_days=14)})
    gel, classic = ServiceLine("gel", "Gel", "Манікюр"), ServiceLine("classic", "Classic", "Манікюр")
    assert shortest_periods([gel, classic], policy) == {"manicure": (14, classic)}
