"""What the store already knows when an event arrives (or the clock ticks): the input the rules decide from.

The job layer loads one Snapshot per client from the store; nothing here is fetched lazily. Everything
a rule needs to stay idempotent is in it too: ``applied`` holds the keys of the actions already carried
out, so a planned action whose key is there is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pipelines.events import BookingStatus, GoodsLine, ServiceLine
from pipelines.stages import Pipeline


@dataclass(frozen=True)
class VisitState:
    """The last stored snapshot of one booking."""

    external_id: str
    status: BookingStatus
    start_at: datetime
    staff_id: str | None
    version: datetime  # occurred_at of the event that wrote it
    categories: tuple[str, ...] = ()  # canonical categories of its services (RecordVisit.categories)
    staff_name: str | None = None
    branch: str | None = None
    services: tuple[str, ...] = ()  # service titles, for texts
    price: Decimal | None = None  # the booking's value (sum of its lines), the budget of leads about it
    goods: tuple[GoodsLine, ...] = ()  # products sold and materials used with it, for the visit history
    lines: tuple[ServiceLine, ...] = ()  # its service lines (id, title, category), for per-category texts
    booked_at: datetime | None = None  # when the booking was made in the booking system, if it says

    def booked_by(self, moment: datetime) -> bool:
        """Already made at ``moment`` (unknown counts as made: only a known later booking time says no)."""
        return self.booked_at is None or self.booked_at <= moment

    def is_upcoming(self, now: datetime) -> bool:
        """Still expects the client: scheduled/confirmed and not yet started."""
        return self.status.is_upcoming and self.start_at >= now


class TaskState(StrEnum):
    """The periodicity autotask of one cycle (seed 000)."""

    OPEN = "open"  # created, waiting for the admin
    CANCELLED_BY_BOOKING = "cancelled_by_booking"  # closed by us: a same-category booking exists
    DONE_BY_PERSON = "done_by_person"  # an amoCRM user completed it: never touched again
    RESTORED = "restored"  # reopened by us after the cancelling booking was cancelled


@dataclass(frozen=True)
class Cycle:
    """Per client and category, the open expectation of the next visit (DESIGN §5)."""

    category: str  # canonical category
    anchor_visit_id: str  # the completed visit the cycle counts from
    due_at: datetime  # visit date + periodicity, at the tenant's working hour (tenant timezone)
    period_days: int
    task_key: str  # key of the CreateTask that is (or would be) the autotask
    task_state: TaskState = TaskState.OPEN
    cancelled_by: str | None = None  # booking id that cancelled the task (CANCELLED_BY_BOOKING)
    task_exists: bool = True  # False when the cycle opened already cancelled: no task was ever created
    service: str | None = None  # title of the service that set the period, for texts
    master: str | None = None  # who did it, for texts

    @property
    def task_active(self) -> bool:
        """The task is waiting for the admin (whether or not its deadline has passed)."""
        return self.task_state in (TaskState.OPEN, TaskState.RESTORED)


class LeadStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class LeadState:
    """One amoCRM lead the robot created; ``key`` is the CreateLead key that made it."""

    key: str
    pipeline: Pipeline
    stage: str
    status: LeadStatus = LeadStatus.OPEN
    manual: bool = False  # a person moved it last: the robot makes no time-based moves on it


class LostStep(StrEnum):
    REMINDER = "reminder"  # entered Lost clients, reminder message sent
    PROMO = "promo"  # "come back to <master>" promo sent
    CALL = "call"  # manager call task created
    LOST_FOR_GOOD = "lost_for_good"  # lead closed as lost
    RETURNED = "returned"  # a new booking won the lead
    TAKEN_OVER = "taken_over"  # a person moved or closed the lead: the robot stopped

    @property
    def running(self) -> bool:
        return self in (LostStep.REMINDER, LostStep.PROMO, LostStep.CALL)


@dataclass(frozen=True)
class LostProgress:
    """Where the client's win-back sequence is (one sequence per anchor visit)."""

    anchor_visit_id: str  # the client's last completed visit when the sequence started
    lead_key: str
    step: LostStep
    step_at: datetime  # when the step was carried out; the next one counts from here


@dataclass(frozen=True)
class PrepaymentState:
    """The latest prepayment attempt of one of the client's bookings."""

    booking_id: str
    attempt: int
    order_ref: str
    status: str  # pipelines.prepayment.PrepaymentStatus value
    amount: Decimal
    currency: str
    deadline_at: datetime
    receipt: str | None = None  # the receipt number, once paid
    branch: str | None = None  # the booking's branch (YCLIENTS: its company id)


@dataclass(frozen=True)
class ReconnectContact:
    """A Reconnect campaign's contact of the client in one category whose follow-up is still open."""

    key: str  # the RecordReconnectContact key
    category: str
    branch: str | None
    channels: tuple[str, ...]
    contacted_at: datetime
    follow_up_at: datetime | None


@dataclass(frozen=True)
class ClientState:
    """The local client the event belongs to (the job layer creates it before planning)."""

    id: str  # local client id: stable, used in every idempotency key
    name: str | None = None
    reachable: bool = False  # has a phone or an email
    opted_out: bool = False  # asked for no marketing / service messages
    has_completed_visit: bool = False  # ever, including visits older than client_visits holds
    welcome_sent: bool = False
    acquisition: str | None = None  # the ad source the client came through (client card)
    birthday: date | None = None  # client card
    blacklisted: bool = False  # client card: never sent anything but booking messages
    card_type: str | None = None  # client card: loyalty / discount card
    balance: Decimal | None = None  # client card: account balance
    tags: tuple[str, ...] = ()  # client card: staff's and bookings' tags


@dataclass(frozen=True)
class Snapshot:
    """The stored history an event (or a clock tick) is judged against."""

    visit: VisitState | None = None  # the event's booking as stored before it (None: first sight)
    client_visits: tuple[VisitState, ...] = field(default_factory=tuple)  # the client's bookings, any status
    client: ClientState | None = None  # None: the booking has no client; only bookkeeping is planned
    cycles: tuple[Cycle, ...] = ()  # open cycles, at most one per category
    # cycles the next visit closed (``task_exists`` False where no task was made: history), for a booking
    # inside one processed late
    closed_cycles: tuple[Cycle, ...] = ()
    leads: tuple[LeadState, ...] = ()  # the client's robot-made leads, oldest first
    lost: LostProgress | None = None  # the latest win-back sequence
    applied: frozenset[str] = frozenset()  # keys of actions already carried out (messages included)
    marketing_sent_at: tuple[datetime, ...] = ()  # send times of marketing messages (sent or scheduled)
    prepayments: tuple[PrepaymentState, ...] = ()  # latest attempt per booking (only where the tenant takes them)
    reconnect: tuple[ReconnectContact, ...] = ()  # Reconnect contacts whose follow-up is still to be decided

    def cycle(self, category: str) -> Cycle | None:
        return next((c for c in self.cycles if c.category == category), None)

    def closed_cycle(self, category: str, anchor_visit_id: str) -> Cycle | None:
        return next((c for c in self.closed_cycles
                     if (c.category, c.anchor_visit_id) == (category, anchor_visit_id)), None)

    def open_lead(self, pipeline: Pipeline) -> LeadState | None:
        """The newest open lead in ``pipeline``."""
        return next(
            (lead for lead in reversed(self.leads) if lead.pipeline is pipeline and lead.status is LeadStatus.OPEN),
            None,
        )

    def prepayment(self, booking_id: str) -> PrepaymentState | None:
        return next((p for p in self.prepayments if p.booking_id == booking_id), None)

    def newest_open_lead(self) -> LeadState | None:
        """The client's newest open robot-made lead, in any pipeline."""
        return next((lead for lead in reversed(self.leads) if lead.status is LeadStatus.OPEN), None)

    def lead(self, key: str) -> LeadState | None:
        return next((lead for lead in self.leads if lead.key == key), None)

    def upcoming(self, now: datetime, exclude: str | None = None) -> tuple[VisitState, ...]:
        """The client's bookings still to come (any category, any branch), ``exclude`` left out."""
        return tuple(v for v in self.client_visits if v.external_id != exclude and v.is_upcoming(now))

    def completed(self) -> tuple[VisitState, ...]:
        """Completed visits, newest first."""
        done = (v for v in self.client_visits if v.status is BookingStatus.COMPLETED)
        return tuple(sorted(done, key=lambda v: (v.start_at, v.external_id), reverse=True))
