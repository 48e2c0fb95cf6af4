"""Client segments (seed 001): pure filter definitions, combined with AND; the store runs them as SQL.

A segment is built from text filters (the command line's options, an API query, or a segment saved by
name in the tenant file's ``clients.segments``) by ``parse_segment``, which refuses unknown filters
and reversed ranges with a message naming the filter. Ranges are ``MIN..MAX`` with either side
optional and both ends included. Lists are comma-separated: a client matches any of them, except tags,
where the client must carry all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from config.segment_filters import SEGMENT_FILTERS

T = TypeVar("T")
GENDERS = ("female", "male", "other")


class SegmentError(ValueError):
    """A filter that cannot be used; ``name`` is the filter, the message says why and what is expected."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


@dataclass(frozen=True)
class Range(Generic[T]):
    low: T | None = None
    high: T | None = None

    def contains(self, value: Any) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class MonthDays:
    """Birthdays from ``start`` to ``end`` as (month, day), wrapping the new year when end < start."""

    start: tuple[int, int]
    end: tuple[int, int]

    def contains(self, day: date | None) -> bool:
        if day is None:
            return False
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class Segment:
    tags: tuple[str, ...] = ()
    gender: tuple[str, ...] = ()
    birthday: MonthDays | None = None
    card_type: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    reason: tuple[str, ...] = ()
    balance: Range[Decimal] | None = None
    blacklisted: bool | None = None
    last_visit: Range[date] | None = None
    category: tuple[str, ...] = ()
    branch: tuple[str, ...] = ()
    master: tuple[str, ...] = ()
    spend: Range[Decimal] | None = None
    visits: Range[int] | None = None

    def describe(self) -> dict[str, Any]:
        """The filters in use, JSON-ready (for reports' and exports' headers)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ((), None):
                continue
            if isinstance(value, Range):
                value = f"{_text(value.low)}..{_text(value.high)}"
            elif isinstance(value, MonthDays):
                value = f"{value.start[0]:02d}-{value.start[1]:02d}..{value.end[0]:02d}-{value.end[1]:02d}"
            elif isinstance(value, tuple):
                value = ",".join(value)
            out[f.name] = value
        return out


def _text(value: Any) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)


def _names(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    if not items:
        raise SegmentError(name, "is empty")
    return items


def _range(name: str, raw: str, read: Any, what: str) -> Range[Any]:
    low_text, sep, high_text = raw.partition("..")
    if not sep:
        low_text = high_text = raw  # one value: exactly that
    try:
        low = read(low_text.strip()) if low_text.strip() else None
        high = read(high_text.strip()) if high_text.strip() else None
    except (ValueError, InvalidOperation):
        raise SegmentError(name, f"expected {what} MIN..MAX, got {raw!r}") from None
    if low is None and high is None:
        raise SegmentError(name, f"expected {what} MIN..MAX with at least one side, got {raw!r}")
    if low is not None and high is not None and low > high:
        raise SegmentError(name, f"reversed range {raw!r}: {_text(low)} is after {_text(high)}")
    return Range(low, high)


MAX_AMOUNT = Decimal(10) ** 12  # wider than any balance or spend, narrow enough for every database's numbers
MAX_COUNT = 10**9


def _decimal(text: str) -> Decimal:
    value = Decimal(text.replace(",", "."))
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise ValueError(text)
    return value


def _day(text: str) -> date:
    """A date away from the calendar's ends (a day added or a time zone applied to it must not overflow)."""
    value = date.fromisoformat(text)
    if not date(1, 1, 2) <= value <= date(9999, 12, 30):
        raise ValueError(text)
    return value


def _whole(text: str) -> int:
    value = int(text)
    if value < 0 or value > MAX_COUNT:
        raise ValueError(text)
    return value


def _month_day(name: str, text: str) -> tuple[int, int]:
    try:
        month, day = (int(p) for p in text.strip().split("-")[-2:])
        date(2000, month, day)  # a leap year: 02-29 is a birthday
    except ValueError:
        raise SegmentError(name, f"expected MM-DD..MM-DD, got {text!r}") from None
    return month, day


def _gender(name: str, text: str) -> tuple[str, ...]:
    genders = _names(name, text.lower())
    wrong = [g for g in genders if g not in GENDERS]
    if wrong:
        raise SegmentError(name, f"unknown gender {', '.join(wrong)}; expected {', '.join(GENDERS)}")
    return genders


def _birthday(name: str, text: str) -> MonthDays:
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise SegmentError(name, f"expected MM-DD..MM-DD, got {text!r}")
    return MonthDays(_month_day(name, start), _month_day(name, end))


def _flag(name: str, text: str) -> bool:
    flag = text.lower()
    if flag not in ("yes", "no", "true", "false", "1", "0"):
        raise SegmentError(name, f"expected yes or no, got {text!r}")
    return flag in ("yes", "true", "1")


# filter name -> (Segment field, reader of the text)
_READERS: dict[str, tuple[str, Any]] = {
    "tag": ("tags", _names),
    "gender": ("gender", _gender),
    "birthday": ("birthday", _birthday),
    "card_type": ("card_type", _names),
    "source": ("source", _names),
    "reason": ("reason", _names),
    "balance": ("balance", lambda n, t: _range(n, t, _decimal, "amounts")),
    "blacklisted": ("blacklisted", _flag),
    "last_visit": ("last_visit", lambda n, t: _range(n, t, _day, "dates YYYY-MM-DD")),
    "category": ("category", _names),
    "branch": ("branch", _names),
    "master": ("master", _names),
    "spend": ("spend", lambda n, t: _range(n, t, _decimal, "amounts")),
    "visits": ("visits", lambda n, t: _range(n, t, _whole, "whole numbers")),
}
assert set(_READERS) == set(SEGMENT_FILTERS)


def parse_segment(filters: Mapping[str, Any]) -> Segment:
    """A Segment from ``{filter name: text}``; SegmentError for an unknown filter or an unusable value."""
    values: dict[str, Any] = {}
    for name, raw in filters.items():
        if name not in _READERS:
            raise SegmentError(name, f"unknown filter; known: {', '.join(SEGMENT_FILTERS)}")
        if raw is None or str(raw).strip() == "":
            raise SegmentError(name, "is empty")
        field_name, read = _READERS[name]
        values[field_name] = read(name, str(raw).strip())
    return Segment(**values)


def combine(*segments: Segment) -> Segment:
    """Later segments' filters over earlier ones' (a saved segment narrowed on the command line)."""
    merged: dict[str, Any] = {}
    for segment in segments:
        merged.update({f.name: getattr(segment, f.name) for f in fields(segment)
                       if getattr(segment, f.name) not in ((), None)})
    return Segment(**merged)
