"""Reconnect (seed 004): which regular clients are late for their usual rebooking, per service category.

A client's typical interval in a category is learned from their own completed visits once there are
three (distinct local days): the mean of the last two gaps, i.e. half the span from the third-last to
the last visit (docs/reconnect.md says why). With fewer, the category's periodicity stands in; with no
periodicity either, the client is not tracked there. Expected = last visit + interval; at risk once
today is past expected + tolerance, unless the client has any upcoming booking (any category, any
branch). Only completed visits count: no-shows and cancellations are not visits.

The store streams rows into ``Tracker`` in any order (a million visits must fold in about a second,
so it keeps only the last three days per client and category); ``assess`` and ``overview`` decide.
Everything is pure: time comes in as ``now``, the time zone and periodicities as arguments.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from pipelines.events import BookingStatus

MIN_VISITS = 3  # the seed: a pattern exists once the client has had 3 visits in the category
DEFAULT_TOLERANCE_DAYS = 7

Periodicity = Callable[[str], int | None]  # category -> days (None: no periodicity)


@dataclass(frozen=True)
class ClientBooking:
    """One booking of a client as the store knows it (any status), in the shape the rules read."""

    booking_id: str
    client: Hashable  # the person (see ``person_key``)
    status: BookingStatus
    start_at: datetime  # aware
    categories: tuple[str, ...] = ()  # canonical; a package lists every category it counts for
    branch: str | None = None
    price: Decimal | None = None
    booked_at: datetime | None = None  # when the booking was made (attribution); None: unknown
    ref: Hashable = None  # the local client record, for display (defaults to ``client``)


def person_key(client_id: Hashable, phone: str | None, email: str | None) -> str:
    """One person however many client records the store holds: by phone, else email, else the record.

    The intake already matches clients by phone then email, so two records share one only after a
    merge in the booking system (or a phone added later): their histories are one client's.
    """
    if phone:
        return f"phone:{phone.strip()}"
    if email:
        return f"email:{email.strip().casefold()}"
    return f"client:{client_id}"


@dataclass
class _Track:
    days: list[int]  # ordinals of the last (up to) MIN_VISITS distinct local days, ascending
    last_at: int  # epoch seconds of the latest visit
    branch: str | None
    ref: Hashable


@dataclass(frozen=True)
class History:
    """A client's completed visits in one category, reduced to what the rules read."""

    client: Hashable
    category: str
    days: tuple[date, ...]  # the last (up to) three distinct local visit days, ascending
    branch: str | None  # of the latest visit: where the client is expected back
    ref: Hashable = None

    @property
    def last_visit(self) -> date:
        return self.days[-1]


class Tracker:
    """Folds completed visits and upcoming bookings, in any order, into per-client histories.

    Memory is a few ints per (client, category); a completed visit dated in the future is bad input
    and is counted in ``future_visits`` instead of being used.
    """

    def __init__(self, timezone: ZoneInfo, now: datetime) -> None:
        self.timezone = timezone
        self.now_epoch = now.timestamp()
        self.booked: set[Hashable] = set()
        self.future_visits = 0
        self._tracks: dict[tuple[Hashable, str], _Track] = {}

    def local_day(self, epoch: float) -> int:
        return datetime.fromtimestamp(epoch, self.timezone).toordinal()

    def visit(self, client: Hashable, epoch: float, categories: Iterable[str], branch: str | None,
              ref: Hashable = None) -> None:
        """A completed visit starting at ``epoch`` (UTC seconds); several on one local day count once."""
        if epoch > self.now_epoch:
            self.future_visits += 1
            return
        day = self.local_day(epoch)
        ref = client if ref is None else ref
        for category in categories:
            track = self._tracks.get((client, category))
            if track is None:
                self._tracks[(client, category)] = _Track([day], epoch, branch, ref)
                continue
            days = track.days
            if day not in days and (len(days) < MIN_VISITS or day > days[0]):
                insort(days, day)
                if len(days) > MIN_VISITS:
                    del days[0]
            if epoch > track.last_at:
                track.last_at, track.branch, track.ref = epoch, branch, ref

    def upcoming(self, client: Hashable) -> None:
        """The client has a booking still to come (any category, any branch)."""
        self.booked.add(client)

    def add(self, booking: ClientBooking) -> None:
        """Any booking: completed ones are visits, upcoming ones suppress, the rest are ignored."""
        ref = booking.client if booking.ref is None else booking.ref
        if booking.status is BookingStatus.COMPLETED:
            self.visit(booking.client, booking.start_at.timestamp(), booking.categories, booking.branch, ref)
        elif booking.status.is_upcoming and booking.start_at.timestamp() >= self.now_epoch:
            self.upcoming(booking.client)

    def histories(self) -> Iterator[History]:
        for (client, category), t in self._tracks.items():
            yield History(client, category, tuple(map(date.fromordinal, t.days)), t.branch, t.ref)


def learned_interval(days: Sequence[date]) -> int | None:
    """Mean of the last two gaps between the last three distinct visit days, rounded up; None below three."""
    distinct = sorted(set(days))
    if len(distinct) < MIN_VISITS:
        return None
    return math.ceil((distinct[-1] - distinct[-3]).days / 2)


class Source(StrEnum):
    LEARNED = "learned"  # from the client's own last three visits
    PERIODICITY = "periodicity"  # the category's periodicity (fewer than three visits)


@dataclass(frozen=True)
class Assessment:
    """Where one client stands in one category on ``today``."""

    history: History
    interval_days: int
    source: Source
    expected: date  # last visit + interval
    days_late: int  # today - expected (negative: not yet due)
    booked: bool  # has an upcoming booking, any category, any branch
    tolerance_days: int

    @property
    def overdue(self) -> bool:
        """Past expected + tolerance, whether or not a booking suppresses the flag."""
        return self.days_late > self.tolerance_days

    @property
    def at_risk(self) -> bool:
        return self.overdue and not self.booked

    @property
    def suppressed(self) -> bool:
        return self.overdue and self.booked


def assess(history: History, periodicity: int | None, today: date, booked: bool,
           tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> Assessment | None:
    """The client's expectation in the category, or None when there is nothing to expect from."""
    learned = learned_interval(history.days)
    interval, source = (learned, Source.LEARNED) if learned is not None else (periodicity, Source.PERIODICITY)
    if not interval:
        return None
    expected = history.last_visit + timedelta(days=interval)
    return Assessment(history, interval, source, expected, (today - expected).days, booked, tolerance_days)


def assess_all(tracker: Tracker, periodicity: Periodicity, today: date,
               tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> list[Assessment]:
    out = []
    for history in tracker.histories():
        found = assess(history, periodicity(history.category), today, history.client in tracker.booked,
                       tolerance_days)
        if found is not None:
            out.append(found)
    return out


def assess_bookings(bookings: Iterable[ClientBooking], timezone: ZoneInfo, now: datetime,
                    periodicity: Periodicity, tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> list[Assessment]:
    """Every client's standing from a plain list of bookings (what the store scan does, for small inputs)."""
    tracker = Tracker(timezone, now)
    for booking in bookings:
        tracker.add(booking)
    return assess_all(tracker, periodicity, now.astimezone(timezone).date(), tolerance_days)


@dataclass
class Counts:
    """One row of the overview. Each number counts clients (a client counts once per row)."""

    tracked: set[Hashable] = field(default_factory=set)  # with an expectation in the group
    learned: set[Hashable] = field(default_factory=set)  # ... learned from their own visits
    due_this_week: set[Hashable] = field(default_factory=set)  # expected by Sunday, not booked, not at risk
    due_this_month: set[Hashable] = field(default_factory=set)  # expected by the month's end, same
    at_risk: set[Hashable] = field(default_factory=set)
    suppressed: set[Hashable] = field(default_factory=set)  # overdue but booked: not contacted

    def add(self, a: Assessment, week_end: date, month_end: date) -> None:
        who = a.history.client
        self.tracked.add(who)
        if a.source is Source.LEARNED:
            self.learned.add(who)
        if a.at_risk:
            self.at_risk.add(who)
        elif a.suppressed:
            self.suppressed.add(who)
        elif not a.booked:
            if a.expected <= week_end:
                self.due_this_week.add(who)
            if a.expected <= month_end:
                self.due_this_month.add(who)

    def numbers(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in COUNT_NAMES}


COUNT_NAMES = ("tracked", "learned", "due_this_week", "due_this_month", "at_risk", "suppressed")


@dataclass(frozen=True)
class Overview:
    today: date
    week_end: date
    month_end: date
    total: dict[str, int]
    by_category: dict[str, dict[str, int]]
    by_branch: dict[str | None, dict[str, int]]


def period_ends(today: date) -> tuple[date, date]:
    """The last day of today's week (Monday to Sunday) and of today's month."""
    week_end = today + timedelta(days=6 - today.weekday())
    next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return week_end, next_month - timedelta(days=1)


def overview(assessments: Iterable[Assessment], today: date) -> Overview:
    """Counts per category, per branch (of the client's latest visit in the category) and in total.

    A client at risk in two categories counts once in the total and once in each category.
    """
    week_end, month_end = period_ends(today)
    total, by_category, by_branch = Counts(), {}, {}
    for a in assessments:
        for counts in (total, by_category.setdefault(a.history.category, Counts()),
                       by_branch.setdefault(a.history.branch, Counts())):
            counts.add(a, week_end, month_end)
    return Overview(
        today, week_end, month_end, total.numbers(),
        {k: c.numbers() for k, c in sorted(by_category.items())},
        {k: c.numbers() for k, c in sorted(by_branch.items(), key=lambda kv: kv[0] or "")},
    )


def at_risk(assessments: Iterable[Assessment]) -> list[Assessment]:
    """The clients to contact: at risk, most overdue first within each category."""
    chosen = [a for a in assessments if a.at_risk]
    return sorted(chosen, key=lambda a: (a.history.category, -a.days_late, str(a.history.client)))
