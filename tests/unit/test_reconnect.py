"""Reconnect rules: the learned interval, the at-risk flag and its suppression, the overview numbers."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipelines.catalog import CatalogOverrides, ServiceRule, booking_categories, category_days
from pipelines.events import BookingStatus as S
from pipelines.events import ServiceLine
from pipelines.policy import Policy
from pipelines.reconnect import (
    ClientBooking,
    Source,
    Tracker,
    assess_bookings,
    at_risk,
    learned_interval,
    overview,
    period_ends,
    person_key,
    same_people,
)

TZ = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 6, 15, 12, tzinfo=TZ)  # a Monday
TODAY = NOW.date()
PERIODS = {"manicure": 21, "pedicure": 28, "massage": None}


def periodicity(category: str) -> int | None:
    return PERIODS.get(category)


def bk(day: str, category: str = "manicure", status: S = S.COMPLETED, *, client: str = "olha", branch: str = "b1",
       hour: int = 12, categories: tuple[str, ...] | None = None) -> ClientBooking:
    start = datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)
    return ClientBooking(f"{client}-{day}-{hour}-{category}", client, status, start,
                         categories if categories is not None else (category,), branch)


def standing(bookings: list[ClientBooking], category: str = "manicure", tolerance: int = 7, now: datetime = NOW):
    found = [a for a in assess_bookings(bookings, TZ, now, periodicity, tolerance) if a.history.category == category]
    return found[0] if found else None


# The table: visits (and other bookings) -> interval, where it came from, expected date, at risk.
CASES = {
    "exactly three visits: the mean of their two gaps": (
        [bk("2026-04-06"), bk("2026-04-27"), bk("2026-05-18")], 21, Source.LEARNED, "2026-06-08", False),
    "irregular gaps 50 and 11: the mean 30.5 rounds up": (
        [bk("2026-03-01"), bk("2026-04-20"), bk("2026-05-01")], 31, Source.LEARNED, "2026-06-01", True),
    "only the last three visits count": (
        [bk("2025-01-10"), bk("2026-03-01"), bk("2026-04-20"), bk("2026-05-01")], 31, Source.LEARNED, "2026-06-01",
        True),
    "a client who changed pace is judged by the new pace": (
        [bk("2026-01-05"), bk("2026-02-02"), bk("2026-03-02"), bk("2026-05-10"), bk("2026-05-17"),
         bk("2026-05-24")], 7, Source.LEARNED, "2026-05-31", True),
    "two visits on one day count once: two visits, the periodicity": (
        [bk("2026-04-27", hour=10), bk("2026-04-27", hour=16), bk("2026-05-18")], 21, Source.PERIODICITY,
        "2026-06-08", False),
    "one local day across UTC midnight counts once": (
        [bk("2026-05-10", hour=1), bk("2026-05-10", hour=20), bk("2026-05-20")], 21, Source.PERIODICITY,
        "2026-06-10", False),
    "no-shows and cancellations are not visits": (
        [bk("2026-04-06"), bk("2026-04-27", status=S.NO_SHOW), bk("2026-05-11", status=S.CANCELLED),
         bk("2026-05-18")], 21, Source.PERIODICITY, "2026-06-08", False),
    "fewer than three visits: the category's periodicity": (
        [bk("2026-05-01", "pedicure")], 28, Source.PERIODICITY, "2026-05-29", True),
    "no periodicity but three visits: learned": (
        [bk("2026-03-01", "massage"), bk("2026-04-01", "massage"), bk("2026-05-01", "massage")], 31,
        Source.LEARNED, "2026-06-01", True),
}


@pytest.mark.parametrize(("bookings", "interval", "source", "expected", "risk"), CASES.values(), ids=CASES.keys())
def test_interval_and_flag(bookings, interval, source, expected, risk):
    category = bookings[0].categories[0]
    found = standing(bookings, category)
    assert (found.interval_days, found.source, found.expected.isoformat(), found.at_risk) == (
        interval, source, expected, risk)
    assert found.history.last_visit == max(b.start_at.date() for b in bookings if b.status is S.COMPLETED)


def test_no_periodicity_and_fewer_than_three_visits_is_not_tracked():
    assert standing([bk("2025-01-01", "massage"), bk("2025-03-01", "massage")], "massage") is None


@pytest.mark.parametrize(("tolerance", "days_after_expected", "risk"), [
    (7, 7, False),  # today is expected + tolerance: not yet past it
    (7, 8, True),
    (0, 0, False),
    (0, 1, True),
    (14, 14, False),
    (14, 15, True),
])
def test_the_tolerance_boundary(tolerance, days_after_expected, risk):
    history = [bk("2026-04-06"), bk("2026-04-27"), bk("2026-05-18")]  # expected 2026-06-08
    now = datetime(2026, 6, 8, 23, 59, tzinfo=TZ) + timedelta(days=days_after_expected)
    found = standing(history, tolerance=tolerance, now=now)
    assert (found.days_late, found.at_risk) == (days_after_expected, risk)


OVERDUE = [bk("2026-03-01"), bk("2026-04-01"), bk("2026-05-01")]  # manicure, every 31 days: expected 2026-06-01


@pytest.mark.parametrize(("other", "suppressed"), [
    (bk("2026-06-20", "pedicure", S.SCHEDULED, branch="b2"), True),  # another category at another branch
    (bk("2026-06-15", "massage", S.CONFIRMED, hour=18), True),  # later today
    (bk("2026-07-01", "manicure", S.SCHEDULED), True),
    (bk("2026-06-10", "pedicure", S.SCHEDULED), False),  # its time has passed: not upcoming any more
    (bk("2026-06-20", "pedicure", S.CANCELLED), False),
    (bk("2026-06-20", "pedicure", S.SCHEDULED, client="someone-else"), False),
])
def test_any_upcoming_booking_suppresses_the_flag(other, suppressed):
    found = standing([*OVERDUE, other])
    assert (found.at_risk, found.suppressed) == (not suppressed, suppressed)


def test_a_package_counts_for_every_category_it_contains():
    policy = dataclasses.replace(Policy("salon"), catalog=CatalogOverrides.build(
        {}, {"Mani + pedi": ServiceRule(category="Manicure", counts_for=("Манікюр", "Педикюр"))}))
    package = booking_categories([ServiceLine("77", "Mani + pedi", "Nails")], policy)
    assert package == ("manicure", "pedicure")
    bookings = [bk("2026-03-01", categories=package), bk("2026-04-01", "pedicure"), bk("2026-05-01", "pedicure"),
                bk("2026-06-05", "manicure")]
    pedicure = standing(bookings, "pedicure")
    assert (pedicure.interval_days, pedicure.source, pedicure.at_risk) == (31, Source.LEARNED, True)
    manicure = standing(bookings, "manicure")
    assert (manicure.interval_days, manicure.source) == (category_days("manicure", policy), Source.PERIODICITY)


def test_a_completed_visit_dated_in_the_future_is_bad_input_and_not_a_visit():
    tracker = Tracker(TZ, NOW)
    for b in [*OVERDUE, bk("2026-07-01")]:
        tracker.add(b)
    assert tracker.future_visits == 1
    [history] = tracker.histories()
    assert history.last_visit == date(2026, 5, 1)


def test_the_branch_is_that_of_the_latest_visit_in_the_category():
    found = standing([bk("2026-03-01"), bk("2026-04-01", branch="b2"), bk("2026-05-01", branch="b3", hour=9),
                      bk("2026-05-01", branch="b4", hour=8)])
    assert found.history.branch == "b3"


@pytest.mark.parametrize(("days", "interval"), [
    (["2026-01-01", "2026-01-22", "2026-02-12"], 21),
    (["2026-02-12", "2026-01-01", "2026-01-22"], 21),  # any order
    (["2026-01-01", "2026-01-01", "2026-01-22"], None),  # two distinct days
    (["2026-01-01", "2026-01-02", "2026-01-03"], 1),
    (["2026-01-01", "2026-01-02", "2026-01-04"], 2),  # 1.5 rounds up
])
def test_learned_interval(days, interval):
    assert learned_interval([date.fromisoformat(d) for d in days]) == interval


@pytest.mark.parametrize(("today", "week_end", "month_end"), [
    ("2026-06-15", "2026-06-21", "2026-06-30"),  # Monday
    ("2026-06-21", "2026-06-21", "2026-06-30"),  # Sunday
    ("2026-12-31", "2027-01-03", "2026-12-31"),
    ("2028-02-10", "2028-02-13", "2028-02-29"),
])
def test_period_ends(today, week_end, month_end):
    assert period_ends(date.fromisoformat(today)) == (date.fromisoformat(week_end), date.fromisoformat(month_end))


def test_overview_counts_per_category_branch_and_in_total():
    bookings = [
        *OVERDUE,  # olha: manicure at risk (b1)
        *(bk(d, "pedicure", client="olha", branch="b2") for d in ("2026-05-20", "2026-05-27", "2026-06-03")),
        # ^ olha: pedicure every 7 days, expected 06-10, 5 days late: due this week, not at risk
        *(bk(d, client="iryna", branch="b2") for d in ("2026-03-01", "2026-04-01", "2026-05-01")),
        bk("2026-06-18", "massage", S.SCHEDULED, client="iryna"),  # iryna: overdue but booked
        bk("2026-06-01", client="anna"),  # anna: one visit, expected 06-22: due this month
        bk("2026-06-12", "pedicure", client="mila"),  # mila: expected 07-10: tracked only
    ]
    assessments = assess_bookings(bookings, TZ, NOW, periodicity)
    view = overview(assessments, TODAY)
    assert view.total == {"tracked": 4, "learned": 2, "due_this_week": 1, "due_this_month": 2, "at_risk": 1,
                          "suppressed": 1}
    assert view.by_category["manicure"] == {"tracked": 3, "learned": 2, "due_this_week": 0, "due_this_month": 1,
                                            "at_risk": 1, "suppressed": 1}
    assert view.by_category["pedicure"] == {"tracked": 2, "learned": 1, "due_this_week": 1, "due_this_month": 1,
                                            "at_risk": 0, "suppressed": 0}
    assert view.by_branch["b2"]["suppressed"] == 1 and view.by_branch["b2"]["due_this_week"] == 1
    assert view.by_branch["b1"]["at_risk"] == 1
    [risk] = at_risk(assessments)
    assert (risk.history.client, risk.history.category, risk.days_late) == ("olha", "manicure", 14)


def test_records_of_one_person_are_one_client():
    assert person_key(1, "+380671234567", "a@b.c") == person_key(2, " +380671234567", None)
    assert person_key(1, None, "Olha@Example.com") == person_key(2, None, "olha@example.com ")
    assert person_key(1, None, None) != person_key(2, None, None)


def test_records_of_one_person_and_renamed_categories_merge_into_one_history():
    tracker = Tracker(TZ, NOW)
    for b in (bk("2026-03-01", client=1), bk("2026-04-01", "massage", client=2),
              bk("2026-05-01", "body massage", client=2, branch="b2"), bk("2026-06-20", status=S.SCHEDULED, client=2)):
        tracker.add(b)
    people = same_people([(2, "+380671234567", None), (1, " +380671234567", None), (3, None, None)])
    assert people == {2: 1}
    tracker.merge(people, {"massage": "body massage"})
    assert sorted((h.client, h.category, h.days, h.branch, h.ref) for h in tracker.histories()) == [
        (1, "body massage", (date(2026, 4, 1), date(2026, 5, 1)), "b2", 2),
        (1, "manicure", (date(2026, 3, 1),), "b1", 1),
    ]
    assert tracker.booked == {1}  # booked under the other record: the person is booked


@pytest.mark.parametrize("zone", ["Europe/Kyiv", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
                                  "America/St_Johns", "UTC"])
def test_local_days_match_the_zone_around_every_transition(zone):
    tz = ZoneInfo(zone)
    tracker = Tracker(tz, NOW)
    start = int(datetime(2025, 1, 1, tzinfo=TZ).timestamp())
    for epoch in range(start, start + 2 * 366 * 86400, 7 * 60 + 13):  # every 7 min 13 s for two years
        assert tracker.local_day(epoch) == datetime.fromtimestamp(epoch, tz).toordinal(), epoch


def test_a_visit_late_on_the_night_clocks_change_falls_on_its_local_day():
    for hour in range(0, 24):  # Kyiv moves from +02:00 to +03:00 at 03:00 on 29 March 2026
        start = datetime(2026, 3, 28, 22, tzinfo=ZoneInfo("UTC")) + timedelta(hours=hour, minutes=59)
        tracker = Tracker(TZ, NOW)
        tracker.local_day(start.timestamp())  # warm the quarter-hour memo the fast path reads
        tracker.visit("olha", start.timestamp(), ("manicure",), None)
        [history] = tracker.histories()
        assert history.last_visit == start.astimezone(TZ).date(), start
