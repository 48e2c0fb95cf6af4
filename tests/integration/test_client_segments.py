"""Every segment filter, alone and combined, against the hand-built client base (known answers)."""

from __future__ import annotations

import pytest

from bridge.store.clients import run_segment
from pipelines.segments import SegmentError, parse_segment
from tests.integration import client_data
from tests.integration.client_data import KYIV


@pytest.fixture
def base(services):
    client_data.build(services.store)
    return services


def names(services, **filters) -> list[str]:
    with services.store.reading() as conn:
        return sorted(r.name for r in run_segment(conn, "salon", parse_segment(filters), KYIV))


ALL = sorted(client_data.CLIENTS)


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ALL),
    ({"tag": "постійна"}, ["Марія", "Олена"]),
    ({"tag": "постійна,vip"}, ["Олена"]),
    ({"gender": "female"}, ["Марія", "Олена", "Софія"]),
    ({"gender": "male"}, ["Петро"]),
    ({"birthday": "12-01..01-31"}, ["Марія", "Олена"]),  # wraps the new year
    ({"birthday": "02-28..03-01"}, ["Петро"]),  # born on 29 February
    ({"birthday": "06-01..06-30"}, ["Софія"]),
    ({"card_type": "Gold"}, ["Ганна", "Олена", "Софія"]),
    ({"card_type": "silver,none"}, ["Марія"]),
    ({"source": "instagram"}, ["Олена", "Петро"]),
    ({"reason": "haircut"}, ["Олена", "Софія"]),
    ({"balance": "100.."}, ["Олена"]),
    ({"balance": "..0"}, ["Ганна", "Марія", "Петро", "Софія"]),  # no balance counts as 0
    ({"balance": "-50"}, ["Ганна"]),
    ({"blacklisted": "yes"}, ["Марія"]),
    ({"blacklisted": "no"}, ["Ганна", "Олена", "Петро", "Софія"]),
    ({"last_visit": "2026-02-01..2026-02-28"}, ["Петро"]),
    ({"last_visit": "2026-03-01.."}, ["Олена"]),
    ({"last_visit": "..2025-12-31"}, ["Марія", "Софія"]),
    ({"category": "Педикюр"}, ["Марія", "Петро"]),  # by the category's name in any language
    ({"category": "manicure"}, ["Олена", "Петро", "Софія"]),  # Ганна's manicure is only booked
    ({"branch": "111112"}, ["Марія", "Петро", "Софія"]),
    ({"master": "ірина"}, ["Олена", "Петро"]),
    ({"spend": "1000..1500"}, ["Олена", "Петро"]),
    ({"visits": "3.."}, ["Петро"]),
    ({"visits": "0"}, ["Ганна"]),
    ({"gender": "female", "card_type": "gold"}, ["Олена", "Софія"]),
    ({"gender": "female", "card_type": "gold", "spend": "500.."}, ["Олена"]),
    ({"branch": "111112", "master": "Оксана", "blacklisted": "no"}, ["Софія"]),
])
def test_each_filter_and_combinations(base, filters, expected):
    assert names(base, **filters) == expected


def test_totals_on_each_row(base):
    with base.store.reading() as conn:
        [row] = [r.record(KYIV) for r in run_segment(conn, "salon", parse_segment({"visits": "3"}), KYIV)]
    assert (row["visits"], str(row["spend"]), str(row["average_check"]), row["last_visit"].isoformat()) == (
        3, "1500.00", "500.00", "2026-02-25")


@pytest.mark.parametrize(("filters", "message"), [
    ({"colour": "red"}, "colour: unknown filter; known: tag, gender"),
    ({"spend": "500..100"}, "spend: reversed range '500..100': 500 is after 100"),
    ({"last_visit": "2026-03-01..2026-02-01"}, "last_visit: reversed range"),
    ({"birthday": "13-01..01-01"}, "birthday: expected MM-DD..MM-DD"),
    ({"gender": "robot"}, "gender: unknown gender robot"),
    ({"visits": "a..b"}, "visits: expected whole numbers MIN..MAX"),
    ({"tag": " "}, "tag: is empty"),
])
def test_bad_filters_are_refused_with_the_reason(filters, message):
    with pytest.raises(SegmentError) as error:
        parse_segment(filters)
    assert message in str(error.value)
