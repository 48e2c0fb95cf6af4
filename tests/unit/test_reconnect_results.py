"""Reconnect attribution (the results report's rule) and categories renamed in the booking system."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pipelines.category_renames import Rename, ServiceSeen, apply, detect_renames, rename_map
from pipelines.events import BookingStatus as S
from pipelines.reconnect import ClientBooking
from pipelines.reconnect_results import rebooking

TZ = ZoneInfo("Europe/Kyiv")
SENT = datetime(2026, 6, 1, 11, tzinfo=TZ)
DAY = timedelta(days=1)


def booking(bid: str, booked: timedelta, categories: tuple[str, ...] = ("manicure",), status: S = S.COMPLETED,
            price: str | None = "650", starts: timedelta = 3 * DAY) -> ClientBooking:
    return ClientBooking(bid, "olha", status, SENT + booked + starts, categories, "b1",
                         Decimal(price) if price else None, SENT + booked)


CASES = {
    "a completed visit in the category": ([booking("b1", 2 * DAY)], ("b1", "650", True)),
    "a package containing the category": (
        [booking("p", 2 * DAY, ("pedicure", "manicure"), price="1200")], ("p", "1200", True)),
    "another category does not count": ([booking("x", 2 * DAY, ("pedicure",))], None),
    "a cancelled booking does not count": ([booking("c", 2 * DAY, status=S.CANCELLED)], None),
    "cancelled, then booked again: the second counts": (
        [booking("c", 1 * DAY, status=S.CANCELLED), booking("b2", 4 * DAY)], ("b2", "650", True)),
    "a no-show is a rebooking without revenue": ([booking("n", 2 * DAY, status=S.NO_SHOW)], ("n", "0", False)),
    "a visit still to come: rebooked, revenue not yet": (
        [booking("u", 2 * DAY, status=S.SCHEDULED)], ("u", "0", False)),
    "booked on the window's last moment": ([booking("e", 30 * DAY)], ("e", "650", True)),
    "booked a second after the window": ([booking("l", 30 * DAY + timedelta(seconds=1))], None),
    "booked before the message": ([booking("early", -DAY)], None),
    "two rebookings: the first made is credited": (
        [booking("second", 5 * DAY, price="900"), booking("first", 1 * DAY, status=S.SCHEDULED)],
        ("first", "0", False)),
    "a completed visit without a price": ([booking("free", DAY, price=None)], ("free", "0", True)),
}


@pytest.mark.parametrize(("bookings", "result"), CASES.values(), ids=CASES.keys())
def test_rebooking_within_the_attribution_window(bookings, result):
    found = rebooking(bookings, "manicure", SENT, window_days=30)
    assert (None if found is None else (found.booking_id, str(found.revenue), found.realised)) == result


def test_a_walk_in_is_booked_when_it_happens():
    walk_in = ClientBooking("w", "olha", S.COMPLETED, SENT + 2 * DAY, ("manicure",), price=Decimal("500"))
    assert rebooking([walk_in], "manicure", SENT).booked_at == SENT + 2 * DAY


def seen(service: str, category: str, first: int, last: int | None = None) -> ServiceSeen:
    return ServiceSeen(service, category, first, first if last is None else last)


RENAMES = {
    "every service of the category moved": (
        [seen("1", "massage", 1, 50), seen("2", "massage", 3, 40), seen("1", "body massage", 60, 90),
         seen("2", "body massage", 70, 80)], [Rename("massage", "body massage", 2)]),
    "a discontinued service stays behind": (
        [seen("1", "massage", 1, 50), seen("9", "massage", 2, 30), seen("1", "body massage", 60, 90)],
        [Rename("massage", "body massage", 1)]),
    "one service re-categorised while the old category lives on": (
        [seen("1", "massage", 1, 50), seen("2", "massage", 3, 100), seen("1", "spa", 60, 90)], []),
    "a category split in two": (
        [seen("1", "massage", 1, 50), seen("2", "massage", 3, 40), seen("1", "spa", 60, 90),
         seen("2", "body", 61, 95)], []),
    "nothing moved": ([seen("1", "massage", 1, 50), seen("2", "spa", 3, 40)], []),
}


@pytest.mark.parametrize(("rows", "renames"), RENAMES.values(), ids=RENAMES.keys())
def test_detect_renames(rows, renames):
    assert detect_renames(rows) == renames


def test_renames_follow_chains_and_apply_to_a_visits_categories():
    mapping = rename_map([Rename("a", "b", 1), Rename("b", "c", 1)])
    assert mapping == {"a": "c", "b": "c"}
    assert apply(("a", "c", "x"), mapping) == ("c", "x")


def test_the_results_add_up_per_category_channel_and_branch():
    from pipelines.reconnect_results import Contacted, tally

    def contacted(client: str, category: str, channel: str, branch: str, *bookings: ClientBooking) -> Contacted:
        return Contacted(client, category, branch, channel, SENT, rebooking(bookings, category, SENT))

    results = tally([
        contacted("a", "manicure", "sms", "b1", booking("a1", 2 * DAY)),  # came: 650
        contacted("b", "manicure", "sms", "b2", booking("b1", 2 * DAY, status=S.NO_SHOW)),  # rebooked, no revenue
        contacted("c", "pedicure", "email", "b1", booking("c1", 2 * DAY, ("pedicure",), status=S.SCHEDULED)),
        contacted("d", "pedicure", "sms+email", "b1", booking("d1", 2 * DAY, ("pedicure",), status=S.CANCELLED)),
    ])
    assert {k: results.total[k] for k in ("contacted", "rebooked", "rate", "revenue", "pending_revenue")} == {
        "contacted": 4, "rebooked": 3, "rate": 0.75, "revenue": Decimal("650"), "pending_revenue": 1}
    assert {k: (v["contacted"], v["rebooked"], v["revenue"]) for k, v in results.by_category.items()} == {
        "manicure": (2, 2, Decimal("650")), "pedicure": (2, 1, Decimal(0))}
    assert {k: v["rebooked"] for k, v in results.by_channel.items()} == {"email": 1, "sms": 2, "sms+email": 0}
    assert {k: v["contacted"] for k, v in results.by_branch.items()} == {"b1": 3, "b2": 1}


def test_three_months_back_keeps_the_day_or_the_months_last():
    from datetime import date

    from salonbridge.reconnect_report import months_back

    assert months_back(date(2026, 12, 5), 3) == date(2026, 9, 5)
    assert months_back(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_back(date(2026, 2, 10), 3) == date(2025, 11, 10)
