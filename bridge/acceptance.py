"""What intake accepts: every value a stored event may carry, checked once, before it is stored.

An event answered 2xx is owed processing; one the worker can never process is as lost as one never
received, and it would come back on every retry. So every source's body goes through the same two
checks in ``bridge.intake`` (live hooks, replay and catch-up alike), and anything that would fail later
is a 422 naming the field, before anything is stored:

- ``check_document``: the raw JSON-like body (booking webhooks, amoCRM changes). Strings with a lone
  surrogate (valid JSON, not encodable as UTF-8) or a NUL (PostgreSQL refuses it in text and JSON),
  numbers that are not finite or beyond 64 bits, nesting deeper than ``Limits.max_depth`` (every later
  reader may recurse). It is a loop with an explicit stack, never recursion.
- ``check_event``: the normalized ``VisitEvent``. Every date inside a sane window around now (default
  1900-01-01 to now + 5 years: a date at the ends of the calendar overflows as soon as a time zone or
  a period is added), durations of at most a day, money and quantities that fit their columns, texts
  that fit theirs.

The window is configurable: ``SALONBRIDGE_EARLIEST_DATE`` (ISO date) and ``SALONBRIDGE_YEARS_AHEAD``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bridge.booking.errors import PayloadError
from config.settings import Settings
from pipelines.events import VisitEvent

MAX_DEPTH = 32  # the deepest body a sender means is about 6 (YCLIENTS record → staff → position)
MAX_INT = 2**63 - 1
MAX_MONEY = Decimal("9999999999.99")  # Numeric(12, 2)
MAX_DURATION_MIN = 24 * 60
MAX_QUANTITY = 1000
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# Column widths of what the worker stores from an event (bridge/store/models.py).
_TEXT_LIMITS = {
    "booking.external_id": 64, "booking.branch": 64, "booking.staff.external_id": 64,
    "booking.staff.name": 200, "booking.channel": 16, "client.external_id": 64, "client.name": 200,
    "client.phone": 20, "client.email": 200,
}
_LINE_LIMITS = {"external_id": 64, "title": 200, "category": 120, "category_id": 64}


@dataclass(frozen=True)
class Limits:
    """The acceptance window and bounds; ``Limits()`` is the default an install runs with."""

    earliest: date = date(1900, 1, 1)
    years_ahead: int = 5
    max_depth: int = MAX_DEPTH

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(earliest=settings.earliest_date, years_ahead=settings.years_ahead)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        start = datetime(self.earliest.year, self.earliest.month, self.earliest.day, tzinfo=UTC)
        return start, now.astimezone(UTC) + timedelta(days=round(365.25 * self.years_ahead))


DEFAULT = Limits()


def unacceptable(problems: dict[str, list[str]]) -> PayloadError:
    return PayloadError("the delivery has values that cannot be processed", problems)


def check_document(value: Any, limits: Limits = DEFAULT, *, prefix: str = "") -> None:
    """Raise PayloadError (422) naming every path whose value could not be stored or processed."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [(prefix, value, 0)]
    while stack and len(problems) < 20:
        path, item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limits.max_depth:
                problems.setdefault(path or "(body)", []).append(f"nested deeper than {limits.max_depth} levels")
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and _BAD_CHARS.search(key):
                    problems.setdefault(_join(path, "?"), []).append(_char_problem(key))
                    continue
                stack.append((_join(path, key), child, depth + 1))
        else:
            problem = _leaf_problem(item)
            if problem:
                problems.setdefault(path or "(body)", []).append(problem)
    if problems:
        raise unacceptable(problems)


def _leaf_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return _char_problem(item) if _BAD_CHARS.search(item) else None
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int) and abs(item) > MAX_INT:
        return "number out of range (more than 64 bits)"
    if isinstance(item, float) and not math.isfinite(item):
        return "number must be finite"
    return None


def _join(path: str, key: Any) -> str:
    text = str(key)
    text = text if len(text) <= 40 else text[:40] + "…"
    return f"{path}.{text}" if path else text


def _char_problem(text: str) -> str:
    found = _BAD_CHARS.search(text)
    assert found is not None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate (not UTF-8 text)"


def check_event(event: VisitEvent, now: datetime, limits: Limits = DEFAULT) -> None:
    """Raise PayloadError (422) for any value of a normalized event the worker could not process."""
    problems: dict[str, list[str]] = {}
    start, end = limits.window(now)
    b = event.booking

    def moment(path: str, value: datetime | date | None) -> None:
        if value is None:
            return
        if isinstance(value, datetime):
            # compare the calendar year first: an aware time at the ends of the calendar overflows in UTC
            ok = start.year - 1 <= value.year <= end.year + 1 and start <= value <= end
        else:
            ok = start.date() <= value <= end.date()
        if not ok:
            problems.setdefault(path, []).append(
                f"out of the accepted range {start.date().isoformat()} .. {end.date().isoformat()}")

    moment("occurred_at", event.occurred_at)
    moment("booking.start_at", b.start_at)
    moment("booking.created_at", b.created_at)
    if event.client is not None:
        moment("client.birthday", event.client.birthday)
    if b.duration_min is not None and not 0 <= b.duration_min <= MAX_DURATION_MIN:
        problems.setdefault("booking.duration_min", []).append(
            f"a booking lasts 0 to {MAX_DURATION_MIN} minutes, got {b.duration_min}")
    _money(problems, "booking.total_price", b.total_price)
    for i, line in enumerate(b.services):
        _money(problems, f"booking.services.{i}.price", line.price)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            problems.setdefault(f"booking.services.{i}.quantity", []).append(f"must be 1 to {MAX_QUANTITY}")
        for name, width in _LINE_LIMITS.items():
            _width(problems, f"booking.services.{i}.{name}", getattr(line, name), width)
    for path, width in _TEXT_LIMITS.items():
        _width(problems, path, _get(event, path), width)
    if problems:
        raise unacceptable(problems)
    # Every other text and number of the event comes from the body, already checked by check_document.


def _money(problems: dict[str, list[str]], path: str, value: Decimal | None) -> None:
    if value is not None and not (value.is_finite() and 0 <= value <= MAX_MONEY):
        problems.setdefault(path, []).append(f"must be 0 to {MAX_MONEY}")


def _width(problems: dict[str, list[str]], path: str, value: Any, width: int) -> None:
    if isinstance(value, str) and len(value) > width:
        problems.setdefault(path, []).append(f"longer than {width} characters")


def _get(event: VisitEvent, path: str) -> Any:
    value: Any = event
    for name in path.split("."):
        if value is None:
            return None
        value = getattr(value, name, None)
    return value
