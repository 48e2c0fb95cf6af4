"""Actions: the imperative intents ``plan`` and ``due`` return and the executor carries out.

Every action has an idempotency ``key`` derived from the rule and the occasion, so applying the same
plan twice (a redelivered event, a retried job, the next clock tick) is recognised and skipped. Keys
of actions that toggle state (cancel / restore a task, move a lead) include the event's stamp
``<booking>@<occurred_at>`` so a later, different toggle is not mistaken for a repeat.
Bookkeeping actions (RecordVisit, OpenCycle, UpdateCycle, CloseCycle, RecordLostStep) only change our
store; Skip changes nothing and exists so that every "no" has a logged reason.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from functools import cache
from typing import Any

from pipelines.events import jsonable
from pipelines.snapshot import Cycle, LostStep, TaskState
from pipelines.stages import Outcome, Pipeline
from pipelines.transitions import Transition


@dataclass(frozen=True)
class Action:
    key: str

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the kind is stored beside them); ``from_dict(kind, to_dict())`` is equal."""
        return jsonable(self)

    @staticmethod
    def from_dict(kind: str, data: Mapping[str, Any]) -> Action:
        """The action of type ``kind`` whose fields ``data`` holds, with every field typed again."""
        try:
            cls = action_types()[kind]
        except KeyError:
            raise ValueError(f"unknown action kind {kind!r}") from None
        hints = _hints(cls)
        return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data})


@cache
def action_types() -> dict[str, type[Action]]:
    """Every action type by its kind name (the classes of this module that extend Action)."""
    return {cls.__name__: cls for cls in Action.__subclasses__()}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _typed(hint: Any, value: Any) -> Any:
    """``value`` read back from JSON as the field's declared type (datetimes, enums, tuples, mappings)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return _typed(next(a for a in typing.get_args(hint) if a is not type(None)), value)
    if origin is tuple:
        return tuple(_typed(typing.get_args(hint)[0], v) for v in value)
    if origin in (Mapping, dict):
        return dict(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is Decimal:
        return Decimal(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


@dataclass(frozen=True)
class RecordVisit(Action):
    """Bookkeeping: the booking moved through these transitions (stored as the visit's history)."""

    booking_id: str
    transitions: tuple[Transition, ...]
    categories: tuple[str, ...] = ()  # canonical categories, stored as VisitState.categories


@dataclass(frozen=True)
class UpsertContact(Action):
    """Find the amoCRM contact (by phone, then email) or create it; refresh name and contacts."""

    client_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class CreateLead(Action):
    """A new lead in ``pipeline`` at ``stage``; later actions refer to it by this action's key."""

    client_id: str
    pipeline: Pipeline
    stage: str
    name: str
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    responsible: str | None = None
    price: int | None = None  # the lead's budget: the value of the booking or visit it is about


@dataclass(frozen=True)
class MoveLead(Action):
    """Move the lead made by ``lead_key`` to ``stage``; ``outcome`` says whether that closes it."""

    client_id: str
    pipeline: Pipeline
    lead_key: str
    stage: str
    outcome: Outcome = Outcome.OPEN
    price: int | None = None  # won by a booking or visit: the lead's budget becomes its value


@dataclass(frozen=True)
class UpdateFields(Action):
    """Set custom fields on the client's contact (``lead_key`` None) or on a lead; ``tags`` are added."""

    client_id: str
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    lead_key: str | None = None
    tags: tuple[str, ...] = ()


class TaskKind(StrEnum):
    PERIODIC = "periodic"  # seed 000: invite for the repeat visit
    SALES_CALL = "sales_call"  # a first booking was missed or cancelled
    LOST_CALL = "lost_call"  # manager call to win a lost client back
    PREPAYMENT = "prepayment"  # a person must look at a prepayment (held money, a refund, a visit to cancel)
    RECONNECT_CALL = "reconnect_call"  # call a client a Reconnect campaign contacted (seed 004)


@dataclass(frozen=True)
class CreateTask(Action):
    """A task for a person; attached to the lead ``lead_key``, or to the contact when None."""

    client_id: str
    task_kind: TaskKind
    text: str
    deadline: datetime
    responsible: str | None = None
    lead_key: str | None = None


@dataclass(frozen=True)
class CompleteTask(Action):
    """Close the task made by ``task_key`` with a result text saying why (never a person's done task)."""

    client_id: str
    task_key: str
    result: str


@dataclass(frozen=True)
class RestoreTask(Action):
    """Reopen the task made by ``task_key`` with ``deadline`` (its own, or now when that has passed).

    Why it came back is said once, by the AddNote planned beside it.
    """

    client_id: str
    task_key: str
    deadline: datetime


@dataclass(frozen=True)
class AddNote(Action):
    """A note on the contact (``lead_key`` None) or a lead, so people see why the robot acted."""

    client_id: str
    text: str
    lead_key: str | None = None


@dataclass(frozen=True)
class SendMessage(Action):
    """One message to the client; rendered and sent by the executor, never before ``send_at``.

    ``context`` holds the placeholder values known here; the executor adds ``link`` (signed, needs a
    secret). ``send_at`` None means now; it is already moved out of quiet hours and past the frequency
    cap where the template is subject to them. ``booking_id`` lets a later CancelMessage find it.
    """

    client_id: str
    template: str
    language: str
    occasion: str
    channels: tuple[str, ...]
    context: Mapping[str, str] = field(default_factory=dict, hash=False)
    send_at: datetime | None = None
    marketing: bool = False
    booking_id: str | None = None


@dataclass(frozen=True)
class CancelMessage(Action):
    """Drop any not-yet-sent ``template`` message scheduled for ``booking_id`` (e.g. the 24 h reminder);
    ``booking_id`` None: the client's ``template`` messages about no booking (e.g. a Reconnect message held
    by the quiet hours when the client books)."""

    client_id: str
    template: str
    booking_id: str | None
    reason: str


@dataclass(frozen=True)
class OpenCycle(Action):
    """Bookkeeping: start expecting the client's next visit in ``category``."""

    client_id: str
    category: str
    anchor_visit_id: str
    due_at: datetime
    period_days: int
    task_key: str
    task_state: TaskState = TaskState.OPEN
    cancelled_by: str | None = None
    task_exists: bool = True
    service: str | None = None
    master: str | None = None

    @classmethod
    def of(cls, key: str, client_id: str, cycle: Cycle) -> OpenCycle:
        """The bookkeeping action that stores ``cycle`` (it carries every field of a Cycle)."""
        return cls(key=key, client_id=client_id, **{f.name: getattr(cycle, f.name) for f in fields(Cycle)})

    def cycle(self) -> Cycle:
        return Cycle(**{f.name: getattr(self, f.name) for f in fields(Cycle)})


@dataclass(frozen=True)
class UpdateCycle(Action):
    """Bookkeeping: the cycle's autotask changed state (cancelled by / restored after a booking)."""

    client_id: str
    category: str
    anchor_visit_id: str
    task_state: TaskState
    cancelled_by: str | None = None
    task_exists: bool = True


@dataclass(frozen=True)
class CloseCycle(Action):
    """Bookkeeping: the cycle is over (a newer visit in the category replaced it)."""

    client_id: str
    category: str
    anchor_visit_id: str
    reason: str


@dataclass(frozen=True)
class RecordLostStep(Action):
    """Bookkeeping: the win-back sequence reached ``step`` at ``at``."""

    client_id: str
    anchor_visit_id: str
    lead_key: str
    step: LostStep
    at: datetime


@dataclass(frozen=True)
class RequestPrepayment(Action):
    """Bookkeeping: open attempt ``attempt`` of the booking's prepayment (the link goes out with its message)."""

    client_id: str
    booking_id: str
    attempt: int
    provider: str
    amount: Decimal
    currency: str
    deadline_at: datetime
    rule: str | None = None
    branch: str | None = None
    visit_at: datetime | None = None
    description: str = ""


class BookingCommand(StrEnum):
    COMMENT = "comment"  # add ``text`` to the visit's comment (the prepayment was received)
    CANCEL = "cancel"  # cancel the visit: its prepayment did not arrive in time, the slot is freed


@dataclass(frozen=True)
class UpdateBooking(Action):
    """Tell the salon's booking system about a prepayment, where its API allows (a worker job does it).

    ``fallback_task`` is what staff are asked to do by hand when the booking system cannot be told (no
    API for the source, no credentials, or the API refused): for a cancellation, to free the slot."""

    client_id: str
    booking_id: str
    command: BookingCommand
    text: str
    branch: str | None = None
    fallback_task: str | None = None
    lead_key: str | None = None


@dataclass(frozen=True)
class ChangePrepayment(Action):
    """Bookkeeping: the booking itself moved its prepayment forward (cancelled before paying, a deposit kept)."""

    client_id: str
    booking_id: str
    attempt: int
    old_status: str
    new_status: str
    alert: str | None = None


@dataclass(frozen=True)
class RecordReconnectContact(Action):
    """Bookkeeping: a Reconnect campaign contacted the client about ``category`` (the results count from here).

    ``message_keys`` are the first message's SendMessage keys (one per channel); the follow-up is due at
    ``follow_up_at`` (None: no follow-up) unless the client rebooks first.
    """

    client_id: str
    campaign: str
    category: str
    branch: str | None
    channels: tuple[str, ...]
    last_visit: str  # local date, ISO
    days_late: int
    contacted_at: datetime
    follow_up_at: datetime | None = None
    message_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordReconnectFollowUp(Action):
    """Bookkeeping: the contact ``contact_key`` got its follow-up (``sent``) or did not need one (``skipped``)."""

    client_id: str
    contact_key: str
    state: str  # sent | skipped
    reason: str = ""
    message_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip(Action):
    """Nothing to do, and why (logged by the executor; recorded like any action, so said once)."""

    rule: str
    reason: str
