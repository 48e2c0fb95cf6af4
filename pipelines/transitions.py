"""Derive what a booking snapshot means by comparing it with the stored one.

Sources send full snapshots without saying what changed (spec/booking.md §6.3), so "created",
"completed", "cancelled", "restored" and so on are worked out here, the same way for every source.
"""

from __future__ import annotations

from enum import StrEnum

from pipelines.events import Booking, BookingStatus, VisitEvent, merge_goods
from pipelines.snapshot import VisitState


class Transition(StrEnum):
    CREATED = "booking.created"
    CONFIRMED = "booking.confirmed"
    RESCHEDULED = "booking.rescheduled"
    UPDATED = "booking.updated"
    CANCELLED = "booking.cancelled"
    RESTORED = "booking.restored"
    COMPLETED = "visit.completed"
    NO_SHOW = "visit.no_show"
    GOODS_CHANGED = "visit.goods_changed"  # products or materials of a visit already completed changed


_STATUS_TRANSITION = {
    BookingStatus.COMPLETED: Transition.COMPLETED,
    BookingStatus.NO_SHOW: Transition.NO_SHOW,
    BookingStatus.CONFIRMED: Transition.CONFIRMED,
    BookingStatus.CANCELLED: Transition.CANCELLED,
}


def is_stale(previous: VisitState | None, event: VisitEvent) -> bool:
    """True when a newer snapshot of the same booking was already applied (out-of-order delivery)."""
    return previous is not None and event.occurred_at < previous.version


def transitions(previous: VisitState | None, booking: Booking) -> tuple[Transition, ...]:
    """The transitions that take ``previous`` to ``booking``; empty when nothing that matters changed."""
    if previous is None:
        first = [Transition.CREATED]
        if booking.status is not BookingStatus.SCHEDULED:
            first.append(_STATUS_TRANSITION[booking.status])
        return tuple(first)
    if previous.status is BookingStatus.CANCELLED and booking.status is not BookingStatus.CANCELLED:
        restored = [Transition.RESTORED]
        if booking.status not in (BookingStatus.SCHEDULED, BookingStatus.CONFIRMED):
            restored.append(_STATUS_TRANSITION[booking.status])
        return tuple(restored)
    if booking.status is not previous.status and booking.status in _STATUS_TRANSITION:
        return (_STATUS_TRANSITION[booking.status],)
    staff_id = booking.staff.external_id if booking.staff else None
    if booking.start_at != previous.start_at or staff_id != previous.staff_id:
        return (Transition.RESCHEDULED,)
    if booking.status is not previous.status:
        return (Transition.UPDATED,)
    if (booking.status is BookingStatus.COMPLETED and booking.goods_reported
            and merge_goods(previous.goods, booking.goods, booking.goods_reported) != previous.goods):
        return (Transition.GOODS_CHANGED,)
    return ()
