"""Did a Reconnect message bring the client back? The rule the results report counts with.

Success (seed 004): after the first message, within the attribution window, the client made a booking
that counts for the message's category; a package counts when it contains the category (bookings
carry every category they count for). A cancelled booking is not a rebooking; a no-show still is one
(the message worked, the client did not come) but brings no revenue; a booking still to come is a
rebooking whose revenue is not known yet. The first qualifying booking is the one credited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

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
