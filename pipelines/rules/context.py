"""What a rule sees: the client's snapshot, the tenant's policy and ``now`` (Scene), plus the event
and the transitions it represents (Occasion)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipelines.events import Booking, BookingStatus, VisitEvent
from pipelines.fold import stored_visit
from pipelines.policy import Policy
from pipelines.snapshot import ClientState, Snapshot, VisitState
from pipelines.transitions import Transition

_GOING_AHEAD = (BookingStatus.SCHEDULED, BookingStatus.CONFIRMED, BookingStatus.COMPLETED)


def next_booking(external_id: str, start_at: datetime, categories: Iterable[str],
                 visits: Iterable[VisitState]) -> VisitState | None:
    """Among ``visits``, the first booking after the one ``external_id`` starting at ``start_at``, in one of
    ``categories`` (booked, confirmed or completed): the booking that followed it there, known whatever order
    the events came in."""
    wanted = set(categories)
    later = [v for v in visits if v.external_id != external_id and v.start_at > start_at
             and v.status in _GOING_AHEAD and not wanted.isdisjoint(v.categories)]
    return min(later, key=lambda v: (v.start_at, v.external_id), default=None)


@dataclass(frozen=True)
class Scene:
    """One client's state at ``now`` (the clock's view)."""

    snapshot: Snapshot
    policy: Policy
    now: datetime
    client: ClientState

    @property
    def language(self) -> str:
        return self.policy.language

    def last_visit(self) -> VisitState | None:
        done = self.snapshot.completed()
        return done[0] if done else None

    def visit(self, external_id: str) -> VisitState | None:
        return next((v for v in self.snapshot.client_visits if v.external_id == external_id), None)


@dataclass(frozen=True)
class Occasion(Scene):
    """A booking event on top of the Scene: what changed and in which categories."""

    event: VisitEvent
    steps: tuple[Transition, ...]
    categories: tuple[str, ...]  # canonical categories of the booking's services

    @property
    def booking(self) -> Booking:
        return self.event.booking

    @property
    def booking_id(self) -> str:
        return self.event.booking.external_id

    @property
    def stamp(self) -> str:
        """Identifies this snapshot of the booking; part of the keys of state-toggling actions."""
        return f"{self.booking_id}@{self.event.occurred_at.isoformat()}"

    @property
    def is_history(self) -> bool:
        """An imported visit (channel ``import``, or a booking-system import marking ``extra["history"]``):
        history mode, no task or message for what is long over."""
        return self.event.is_history

    @property
    def was_upcoming(self) -> bool:
        previous = self.snapshot.visit
        return previous is not None and previous.status.is_upcoming

    @property
    def is_new_booking(self) -> bool:
        """Created or restored, and expecting the client (seed 000's "a booking is created")."""
        started = Transition.CREATED in self.steps or Transition.RESTORED in self.steps
        return started and self.booking.status.is_upcoming

    @property
    def completed(self) -> bool:
        return Transition.COMPLETED in self.steps

    @property
    def arrives(self) -> bool:
        """The client comes back: a new booking, or a visit completed that we never saw booked."""
        return self.is_new_booking or (self.completed and not self.was_upcoming)

    @property
    def cancelled(self) -> bool:
        """A booking we knew as upcoming was cancelled (a first sight of a cancelled one is not)."""
        return Transition.CANCELLED in self.steps and self.was_upcoming

    @property
    def no_show(self) -> bool:
        return Transition.NO_SHOW in self.steps

    @property
    def first_seen_cancelled(self) -> bool:
        """Out of order: the cancellation arrived before (or instead of) the creation."""
        return Transition.CREATED in self.steps and self.booking.status is BookingStatus.CANCELLED

    @property
    def master(self) -> str | None:
        staff = self.booking.staff
        return staff.name if staff else None

    @property
    def service_titles(self) -> str:
        return ", ".join(line.title for line in self.booking.services)

    def visit_state(self) -> VisitState:
        """The event's booking as it will be stored."""
        return stored_visit(self.event, self.categories, self.snapshot.visit)

    def next_in(self, category: str) -> VisitState | None:
        """The client's first booking in ``category`` after this one (booked, confirmed or completed), known
        whatever order the events came in: the booking that followed this visit there."""
        return next_booking(self.booking_id, self.booking.start_at, (category,), self.snapshot.client_visits)

    def other_upcoming(self, category: str | None = None) -> tuple[VisitState, ...]:
        """The client's other bookings still to come, optionally only those with ``category``."""
        others = self.snapshot.upcoming(self.now, exclude=self.booking_id)
        return tuple(v for v in others if category is None or category in v.categories)
