"""Parsing shared by the booking adapters: ids, ISO date-times with or without offsets, local wall times.

Booking systems disagree on time formats (``+0300`` vs ``+03:00``, naive local strings), so every
adapter goes through the same two steps: parse (keeping "no offset" visible) and then ``localize`` in the
tenant's zone with one documented DST rule.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from marshmallow import fields

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_iso_datetime(value: str) -> datetime:
    """ISO 8601 date-time; accepts ``T`` or space, ``Z``, ``+03:00`` and ``+0300``. Naive stays naive."""
    text = value.strip()
    if not _ISO_DATETIME.match(text):
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    return datetime.fromisoformat(text)


def localize(value: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive local wall time; aware values are returned unchanged.

    DST rule (PEP 495 ``fold=0``): an ambiguous time (clocks going back) is the *first* occurrence,
    i.e. the one with the summer offset; a nonexistent time (clocks going forward) moves forward by the
    length of the gap, so 03:30 on a 03:00→04:00 spring-forward night becomes 04:30 summer time.

    The result carries a fixed UTC offset, not the zone: that is what ``VisitEvent.from_dict`` gives back
    after storage, so live and replayed events compare equal (and Python's ``==`` is unreliable for
    zone-aware times inside a DST fold). Do calendar arithmetic in ``tenant.timezone``.
    """
    if value.tzinfo is not None:
        return value
    local = value.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)
    return local.replace(tzinfo=timezone(local.utcoffset() or timedelta(0)), fold=0)


def parse_birthday(value: Any) -> date | None:
    """A birthday from ``YYYY-MM-DD`` or ``DD.MM.YYYY``; None for empty, zero (``0000-00-00``) or junk."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()[:10]
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class Id(fields.Field):
    """An external id sent as a string or an integer; always loaded as a non-empty string."""

    default_error_messages = {"invalid": "must be a non-empty string or an integer", "too_long": "too long"}

    def __init__(self, *, max_length: int = 64, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not text:
            raise self.make_error("invalid")
        if len(text) > self.max_length:
            raise self.make_error("too_long")
        return text


class IsoDateTime(fields.Field):
    """An ISO 8601 date-time string → ``datetime``; with ``require_offset`` a naive value is an error."""

    default_error_messages = {
        "invalid": "must be an ISO 8601 date-time, e.g. 2026-12-01T12:00:00+03:00",
        "naive": "must include a UTC offset, e.g. 2026-12-01T12:00:00+03:00",
        "range": "out of range: a date at the ends of the calendar cannot be processed",
    }

    def __init__(self, *, require_offset: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.require_offset = require_offset

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            parsed = parse_iso_datetime(value)
        except ValueError as exc:
            raise self.make_error("invalid") from exc
        if self.require_offset and parsed.tzinfo is None:
            raise self.make_error("naive")
        if not 1 < parsed.year < 9999:  # a time zone or offset applied to it would overflow
            raise self.make_error("range")
        return parsed
