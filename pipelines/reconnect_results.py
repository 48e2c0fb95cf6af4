"""Did a Reconnect message bring the client back? The rule the results report counts with.

Success (seed 004): after the first message, within the attribution window, the client made a booking
that counts for the message's category; a package counts when it contains the category (bookings
carry every category they count for). A cancelled booking is not a rebooking; a no-show still is one
(the message worked, the client did not come) but brings no revenue; a booking still to come is a
rebooking whose revenue is not known yet. The first qualifying booking is the one credited.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pipelines.events import BookingStatus
from pipelines.reconnect import ClientBooking

DEFAULT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Rebooking:
    booking_id: str
    booked_at: datetime
    start_at: datetime
    status: BookingStatus
    revenue: Decimal  # the visit's price once completed; 0 for a no-show or a visit still to come

    @property
    def realised(self) -> bool:
        """The revenue is final: the visit took place."""
        return self.status is BookingStatus.COMPLETED


def rebooking(bookings: Iterable[ClientBooking], category: str, first_message_at: datetime,
              window_days: int = DEFAULT_WINDOW_DAYS) -> Rebooking | None:
    """The booking that made the contact a success, or None.

    ``bookings`` are the client's bookings in their latest known state; ``booked_at`` is when each
    was made (the visit's own start for a walk-in, which is booked as it happens). The window is
    inclusive at both ends: [first message, first message + window days].
    """
    window_end = first_message_at + timedelta(days=window_days)
    found: Rebooking | None = None
    for b in bookings:
        booked_at = b.booked_at or b.start_at
        if b.status is BookingStatus.CANCELLED or category not in b.categories:
            continue
        if not first_message_at <= booked_at <= window_end:
            continue
        if found is not None and (found.booked_at, found.booking_id) <= (booked_at, b.booking_id):
            continue
        revenue = (b.price or Decimal(0)) if b.status is BookingStatus.COMPLETED else Decimal(0)
        found = Rebooking(b.booking_id, booked_at, b.start_at, b.status, revenue)
    return found


@dataclass(frozen=True)
class Contacted:
    """One client a campaign contacted about ``category``, and what came of it."""

    client: Hashable
    category: str
    branch: str | None
    channel: str  # the channels the first message went out on: sms, email or sms+email
    first_message_at: datetime
    rebooked: Rebooking | None


RESULT_NAMES = ("contacted", "rebooked", "rate", "revenue", "pending_revenue")


def _row() -> dict[str, Any]:
    return {"contacted": 0, "rebooked": 0, "rate": 0.0, "revenue": Decimal(0), "pending_revenue": 0}


def _add(row: dict[str, Any], c: Contacted) -> None:
    row["contacted"] += 1
    if c.rebooked is not None:
        row["rebooked"] += 1
        row["revenue"] += c.rebooked.revenue
        row["pending_revenue"] += 0 if c.rebooked.realised or c.rebooked.status is BookingStatus.NO_SHOW else 1
    row["rate"] = round(row["rebooked"] / row["contacted"], 4)


@dataclass(frozen=True)
class Results:
    total: dict[str, Any]
    by_category: dict[str, dict[str, Any]]
    by_channel: dict[str, dict[str, Any]]
    by_branch: dict[str | None, dict[str, Any]]


def tally(contacts: Iterable[Contacted]) -> Results:
    """Contacted, rebooked, rate (rebooked / contacted), revenue of the rebooked visits that took place, and
    how many rebookings are still to come (``pending_revenue``), in total and per category, channel, branch.

    Every contact counts once: a client contacted about two categories counts twice (two contacts).
    """
    total, by_category, by_channel, by_branch = _row(), {}, {}, {}
    for c in contacts:
        _add(total, c)
        for table, key in ((by_category, c.category), (by_channel, c.channel), (by_branch, c.branch)):
            _add(table.setdefault(key, _row()), c)
    return Results(total, dict(sorted(by_category.items())), dict(sorted(by_channel.items())),
                   dict(sorted(by_branch.items(), key=lambda kv: kv[0] or "")))
