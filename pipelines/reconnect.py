"""Reconnect (seed 004): which regular clients are late for their usual rebooking, per service category.

A client's typical interval in a category is learned from their own completed visits once there are
three (distinct local days): the mean of the last two gaps, i.e. half the span from the third-last to
the last visit (docs/reconnect.md says why). With fewer, the category's periodicity stands in; with no
periodicity either, the client is not tracked there. Expected = last visit + interval; at risk once
today is past expected + tolerance, unless the client has any upcoming booking (any category, any
branch). Only completed visits count: no-shows and cancellations are not visits.

The store streams rows into ``Tracker`` in any order (a million visits must fold in about a second,
so it keeps only the last three days per client and category); ``assess_all`` and ``overview`` decide.
Everything is pure: time comes in as ``now``, the time zone and periodicities as arguments.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from pipelines.events import BookingStatus

MIN_VISITS = 3  # the seed: a pattern exists once the client has had 3 visits in the category
DEFAULT_TOLERANCE_DAYS = 7

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
Periodicity = Callable[[str], int | None]  # category -> days (None: no periodicity)


@dataclass(frozen=True)
class ClientBooking:
    """One booking of a client as the store knows it (any status), in the shape the rules read."""

    booking_id: str
    client: Hashable  # one key per person (records of one person: see ``same_people``)
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
    if phone and phone.strip():
        return f"phone:{phone.strip()}"
    if email and email.strip():
        return f"email:{email.strip().casefold()}"
    return f"client:{client_id}"


def same_people(records: Iterable[tuple[int, str | None, str | None]]) -> dict[int, int]:
    """(client id, phone, email) -> {record: the lowest id of its person} for people with several records."""
    first: dict[str, int] = {}
    mapping: dict[int, int] = {}
    for client_id, phone, email in sorted(records, key=lambda r: r[0]):
        key = person_key(client_id, phone, email)
        if key in first:
            mapping[client_id] = first[key]
        else:
            first[key] = client_id
    return mapping


@dataclass(slots=True)
class _Track:
    days: list[int]  # ordinals of the last (up to) MIN_VISITS distinct local days, ascending
    last_at: float  # epoch seconds of the latest visit
    branch: str | None
    ref: Hashable

    def add_day(self, day: int) -> None:
        days = self.days
        if day not in days and (len(days) < MIN_VISITS or day > days[0]):
            insort(days, day)
            if len(days) > MIN_VISITS:
                del days[0]


class History(NamedTuple):  # a NamedTuple, not a dataclass: a salon has a hundred thousand of them
    """A client's completed visits in one category, reduced to what the rules read."""

    client: Hashable
    category: str
    day_ordinals: tuple[int, ...]  # the last (up to) three distinct local visit days, ascending
    branch: str | None  # of the latest visit: where the client is expected back
    ref: Hashable = None  # the client record to show (the one of the latest visit)

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(map(date.fromordinal, self.day_ordinals))

    @property
    def last_visit(self) -> date:
        return date.fromordinal(self.day_ordinals[-1])


_BLOCK_S = 900  # every real time-zone transition falls on a quarter hour of UTC; others are checked


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
        self._offsets: dict[int, int] = {}  # UTC quarter hour -> the zone's offset in seconds throughout it

    def local_day(self, epoch: float) -> int:
        """The date ordinal of ``epoch`` in the tenant's zone (offsets memoised per quarter hour)."""
        block = int(epoch // _BLOCK_S)
        offset = self._offsets.get(block)
        if offset is None:
            start, end = (datetime.fromtimestamp(t, self.timezone).utcoffset() for t in
                          (block * _BLOCK_S, block * _BLOCK_S + _BLOCK_S - 1))
            if start != end:  # a transition inside this quarter hour: no shortcut
                return datetime.fromtimestamp(epoch, self.timezone).toordinal()
            offset = self._offsets[block] = int(start.total_seconds())
        return int((epoch + offset) // 86400) + _EPOCH_ORDINAL

    def visit(self, client: Hashable, epoch: float, categories: Iterable[str], branch: str | None,
              ref: Hashable = None) -> None:
        """A completed visit starting at ``epoch`` (UTC seconds); several on one local day count once."""
        if epoch > self.now_epoch:
            self.future_visits += 1
            return
        offset = self._offsets.get(int(epoch // _BLOCK_S))  # local_day's fast path, inlined (a million calls)
        day = int((epoch + offset) // 86400) + _EPOCH_ORDINAL if offset is not None else self.local_day(epoch)
        tracks = self._tracks
        for category in categories:
            track = tracks.get((client, category))
            if track is None:
                tracks[(client, category)] = _Track([day], epoch, branch, client if ref is None else ref)
                continue
            days = track.days  # _Track.add_day, inlined: this line runs a million times per scan
            if day not in days and (len(days) < MIN_VISITS or day > days[0]):
                insort(days, day)
                if len(days) > MIN_VISITS:
                    del days[0]
            if epoch > track.last_at:
                track.last_at, track.branch, track.ref = epoch, branch, client if ref is None else ref

    def upcoming(self, client: Hashable) -> None:
        """The client has a booking still to come (any category, any branch)."""
        self.booked.add(client)

    def add(self, booking: ClientBooking) -> None:
        """Any booking: completed ones are visits, upcoming ones suppress, the rest are ignored."""
        if booking.status is BookingStatus.COMPLETED:
            self.visit(booking.client, booking.start_at.timestamp(), booking.categories, booking.branch, booking.ref)
        elif booking.status.is_upcoming and booking.start_at.timestamp() >= self.now_epoch:
            self.upcoming(booking.client)

    def merge(self, clients: Mapping[Hashable, Hashable] | None = None,
              categories: Mapping[str, str] | None = None) -> None:
        """Re-key what was folded: several records of one person under one client (``clients``: record ->
        the person's client), renamed categories under their current names. Their histories merge.

        Both mappings must point at final keys (no chains).
        """
        clients, categories = clients or {}, categories or {}
        if not clients and not categories:
            return
        self.booked = {clients.get(c, c) for c in self.booked}
        for key in [k for k in self._tracks if k[0] in clients or k[1] in categories]:
            old = self._tracks.pop(key)
            target = (clients.get(key[0], key[0]), categories.get(key[1], key[1]))
            new = self._tracks.get(target)
            if new is None:
                self._tracks[target] = old
                continue
            for day in old.days:
                new.add_day(day)
            if old.last_at > new.last_at:
                new.last_at, new.branch, new.ref = old.last_at, old.branch, old.ref

    def categories(self) -> set[str]:
        """Every category some client has a completed visit in."""
        return {category for _, category in self._tracks}

    def histories(self) -> Iterator[History]:
        for (client, category), t in self._tracks.items():
            yield History(client, category, tuple(t.days), t.branch, t.ref)


def learned_interval(days: Sequence[date]) -> int | None:
    """Mean of the last two gaps between the last three distinct visit days, rounded up; None below three."""
    distinct = sorted({d.toordinal() for d in days})
    return _learned(distinct) if len(distinct) >= MIN_VISITS else None


def _learned(ordinals: Sequence[int]) -> int:
    """Half the span of the last three (distinct, ascending) days, rounded up: the mean of their two gaps."""
    return -(-(ordinals[-1] - ordinals[-MIN_VISITS]) // 2)


class Source(StrEnum):
    LEARNED = "learned"  # from the client's own last three visits
    PERIODICITY = "periodicity"  # the category's periodicity (fewer than three visits)


class Assessment(NamedTuple):
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


def assess_all(tracker: Tracker, periodicity: Periodicity, today: date,
               tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> list[Assessment]:
    """Each client's expectation per category; None-worthy ones (nothing to expect from) are left out.

    Fewer than three visits and no periodicity: nothing to expect. Works in date ordinals: it runs
    over every (client, category) of a salon.
    """
    periods: dict[str, int | None] = {}
    booked, today_ord, out = tracker.booked, today.toordinal(), []
    for (client, category), t in tracker._tracks.items():
        days = t.days
        if len(days) >= MIN_VISITS:
            interval, source = _learned(days), Source.LEARNED
        else:
            if category not in periods:
                periods[category] = periodicity(category)
            interval, source = periods[category], Source.PERIODICITY
        if not interval:
            continue
        expected = days[-1] + interval
        history = History(client, category, tuple(days), t.branch, t.ref)
        out.append(Assessment(history, interval, source, date.fromordinal(expected), today_ord - expected,
                              client in booked, tolerance_days))
    return out


def assess_bookings(bookings: Iterable[ClientBooking], timezone: ZoneInfo, now: datetime,
                    periodicity: Periodicity, tolerance_days: int = DEFAULT_TOLERANCE_DAYS) -> list[Assessment]:
    """Every client's standing from a plain list of bookings (what the store scan does, for small inputs)."""
    tracker = Tracker(timezone, now)
    for booking in bookings:
        tracker.add(booking)
    return assess_all(tracker, periodicity, now.astimezone(timezone).date(), tolerance_days)


COUNT_NAMES = ("tracked", "learned", "due_this_week", "due_this_month", "at_risk", "suppressed")
# tracked: has an expectation in the group; learned: from their own visits; due_this_week / _month: expected by
# the week's Sunday / the month's last day, not booked and not at risk; suppressed: overdue but booked.


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


def _counted_as(a: Assessment, week_end: date, month_end: date) -> tuple[str, ...]:
    names = ["tracked", "learned"] if a.source is Source.LEARNED else ["tracked"]
    if a.overdue:
        names.append("suppressed" if a.booked else "at_risk")
    elif not a.booked:
        names += [n for n, end in (("due_this_week", week_end), ("due_this_month", month_end)) if a.expected <= end]
    return tuple(names)


def overview(assessments: Iterable[Assessment], today: date) -> Overview:
    """Counts per category, per branch (of the client's latest visit in the category) and in total.

    Every number counts clients: one at risk in two categories counts once in the total and once in
    each category.
    """
    week_end, month_end = period_ends(today)
    # A client has one assessment per category, so per category plain counts suffice; across
    # categories (a branch, the total) the same client must count once.
    by_category: dict[str, dict[str, int]] = {}
    distinct: dict[tuple[str, Hashable], dict[str, set[Hashable]]] = {}
    for a in assessments:
        names = _counted_as(a, week_end, month_end)
        counts = by_category.get(a.history.category)
        if counts is None:
            counts = by_category[a.history.category] = dict.fromkeys(COUNT_NAMES, 0)
        for name in names:
            counts[name] += 1
        for group in (("total", None), ("branch", a.history.branch)):
            sets = distinct.get(group)
            if sets is None:
                sets = distinct[group] = {n: set() for n in COUNT_NAMES}
            for name in names:
                sets[name].add(a.history.client)
    numbers = {g: {n: len(sets[n]) for n in COUNT_NAMES} for g, sets in distinct.items()}
    branches = sorted((k for kind, k in numbers if kind == "branch"), key=lambda b: b or "")
    return Overview(today, week_end, month_end, numbers.get(("total", None), dict.fromkeys(COUNT_NAMES, 0)),
                    dict(sorted(by_category.items())), {b: numbers[("branch", b)] for b in branches})


def at_risk(assessments: Iterable[Assessment]) -> list[Assessment]:
    """The clients to contact: at risk, most overdue first within each category."""
    chosen = [a for a in assessments if a.at_risk]
    return sorted(chosen, key=lambda a: (a.history.category, -a.days_late, str(a.history.client)))


def about_to_be_at_risk(assessments: Iterable[Assessment], lead_days: int) -> list[Assessment]:
    """Predicted-time mode: clients who become at risk within ``lead_days`` (not yet at risk, not booked).

    A client becomes at risk on the day ``days_late`` reaches tolerance + 1; they are chosen from
    ``lead_days`` before that day until the day before it, so a clock that missed a day still finds them.
    """
    chosen = [a for a in assessments if not a.booked
              and a.tolerance_days + 1 - lead_days <= a.days_late <= a.tolerance_days]
    return sorted(chosen, key=lambda a: (a.history.category, -a.days_late, str(a.history.client)))
