"""Paid booking (DESIGN §6 rules 10–11, seed 003): ask for a prepayment, and say what each status means.

Events (``on_event``):
- A new booking (or one restored after a cancellation) that a prepayment rule selects: a new attempt
  of the booking's prepayment (``RequestPrepayment``), the lead's ``prepayment_status`` set to pending
  (the seed's grey clock; a first booking's Sales lead also waits at the "prepayment" stage, which the
  Sales rules choose through ``asks_for_prepayment``), and the link message; the link itself is made
  when the message is sent.
- The booking cancelled while its prepayment is open: the prepayment is cancelled; cancelled after
  paying: kept as a deposit or a refund task for staff (``paid_then_cancelled``).

Status changes from anywhere — a provider's callback, the deadline, the booking — become the same
actions (``on_change``): the lead's field and stage, the contact's balance, a note for staff, a task
when a person must act, and the client's message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from pipelines.actions import (
    Action,
    AddNote,
    BookingCommand,
    ChangePrepayment,
    CreateLead,
    CreateTask,
    RequestPrepayment,
    Skip,
    TaskKind,
    UpdateBooking,
    UpdateFields,
)
from pipelines.catalog import categories_of
from pipelines.prepayment import (
    CLOSED_UNPAID,
    CRM_OPTION,
    ClientFacts,
    Effect,
    PrepaymentDecision,
    PrepaymentStatus,
    StatusChange,
    decide,
    on_booking_cancelled,
)
from pipelines.prepayment.money import amount_text
from pipelines.rules.context import Occasion, Scene
from pipelines.rules.leads import move_lead
from pipelines.rules.messaging import message
from pipelines.snapshot import PrepaymentState
from pipelines.stages import PREPAYMENT, Pipeline
from pipelines.texts import local_date, text

FIELD = "prepayment_status"  # the lead field setup provisions (select: pending / paid / expired / refunded)


def on_event(o: Occasion, planned: Sequence[Action] = ()) -> list[Action]:
    """``planned``: what the other rules planned for this event (a lead they create carries the field)."""
    config = o.policy.prepayment
    if config is None:
        return []
    current = o.snapshot.prepayment(o.booking_id)
    if o.cancelled and current is not None:
        change = on_booking_cancelled(PrepaymentStatus(current.status), config.paid_then_cancelled)
        return _booking_moved(o, current, change)
    attempt = _next_attempt(o)
    if attempt is None:
        return []
    created = [a.key for a in planned if isinstance(a, CreateLead)]
    return _request(o, attempt, created[-1] if created else None)


def asks_for_prepayment(o: Occasion) -> bool:
    """Whether this event opens a prepayment attempt: the Sales rules then create (or reopen) the first
    booking's lead at the prepayment stage instead of "first booking"."""
    return _next_attempt(o) is not None and _decision(o).required


def _next_attempt(o: Occasion) -> int | None:
    """The attempt a new or restored booking would open, or None when it opens none (no prepayment
    section, not a new booking, or an attempt still open or already paid)."""
    if o.policy.prepayment is None or not o.is_new_booking:
        return None
    current = o.snapshot.prepayment(o.booking_id)
    if current is not None and PrepaymentStatus(current.status) not in CLOSED_UNPAID:
        return None
    return (current.attempt if current else 0) + 1


def _decision(o: Occasion) -> PrepaymentDecision:
    config = o.policy.prepayment
    assert config is not None
    facts = ClientFacts(tags=frozenset(o.event.client.tags if o.event.client else ()),
                        completed_visits=len(o.snapshot.completed()))
    return decide(config, o.booking, facts, currency=config.currency or o.policy.currency,
                  timezone=o.policy.timezone, now=o.now,
                  line_categories=lambda line: categories_of(line, o.policy))


def _request(o: Occasion, attempt: int, new_lead: str | None) -> list[Action]:
    config = o.policy.prepayment
    assert config is not None
    decision = _decision(o)
    key = f"prepay:{o.client.id}:{o.booking_id}:{attempt}"
    if not decision.required:
        reason = f"booking {o.booking_id}: no prepayment ({decision.reason.value} {decision.detail})".strip()
        return [Skip(key=f"skip:{key}", rule="prepayment", reason=reason)]
    assert decision.amount is not None and decision.currency and decision.deadline_at
    state = PrepaymentState(o.booking_id, attempt, "", PrepaymentStatus.PENDING.value, decision.amount,
                            decision.currency, decision.deadline_at)
    request = RequestPrepayment(
        key=key, client_id=o.client.id, booking_id=o.booking_id, attempt=attempt, provider=config.provider,
        amount=decision.amount,
        currency=decision.currency, deadline_at=decision.deadline_at, rule=decision.rule, branch=o.booking.branch,
        visit_at=o.booking.start_at, description=f"{o.service_titles}, {_local_time(o, o.booking.start_at)}"[:255],
    )
    context = {**_booking_context(o, o.booking_id), "amount": _money(decision.amount, decision.currency),
               "deadline": _local_time(o, decision.deadline_at)}
    return [
        request,
        *_lead_field(o, key, PrepaymentStatus.PENDING, new_lead),
        message(o, config.templates.link, f"{o.booking_id}:{attempt}", context, booking_id=o.booking_id),
        _note(o, state, key, PrepaymentStatus.PENDING, lead_key=new_lead),
    ]


def _booking_moved(o: Occasion, current: PrepaymentState, change: StatusChange) -> list[Action]:
    actions: list[Action] = []
    if change.changed or change.alert:
        actions.append(ChangePrepayment(
            key=f"prepay:{o.client.id}:{o.booking_id}:{current.attempt}:{change.new_status.value}:{o.stamp}",
            client_id=o.client.id, booking_id=o.booking_id, attempt=current.attempt,
            old_status=current.status, new_status=change.new_status.value, alert=change.alert,
        ))
    return actions + on_change(o, current, change, o.stamp)


def on_change(scene: Scene, prepayment: PrepaymentState, change: StatusChange, occasion: str) -> list[Action]:
    """What staff and the client see of a prepayment's change (the row itself is written by the caller).

    ``scene.snapshot`` is read after the caller wrote the change: the client's ``balance`` there already
    holds a top-up or refund, and is what the amoCRM contact's ``balance`` is set to.
    """
    config = scene.policy.prepayment
    if config is None:
        return []
    key = f"prepay:{scene.client.id}:{prepayment.order_ref or prepayment.booking_id}:{change.new_status.value}"
    actions: list[Action] = []
    effects = set(change.effects)
    if Effect.UPDATE_LEAD in effects and change.changed:
        actions += _lead_field(scene, key, change.new_status)
        actions += _lead_stage(scene, prepayment, change.new_status)
    if change.changed and effects & {Effect.TOP_UP_BALANCE, Effect.RECORD_REFUND}:
        actions += _contact_balance(scene, key)
    if change.changed or Effect.NOTIFY_ADMIN in effects:
        actions.append(_note(scene, prepayment, key, change.new_status, change.alert))
    if change.alert:
        actions.append(_task(scene, f"{key}:alert", text(
            "prepayment_alert_task", scene.language, booking=prepayment.booking_id, order=prepayment.order_ref,
            alert=change.alert)))
    if Effect.REFUND_REQUEST in effects:
        actions.append(_task(scene, f"{key}:refund", text(
            "prepayment_refund_task", scene.language, booking=prepayment.booking_id, order=prepayment.order_ref,
            amount=_money(prepayment.amount, prepayment.currency))))
    if Effect.UPDATE_BOOKING in effects:
        actions.append(_tell_booking(scene, prepayment, f"{key}:booking", BookingCommand.COMMENT, text(
            "prepayment_booking_paid", scene.language, amount=_money(prepayment.amount, prepayment.currency),
            receipt=prepayment.receipt or "—", order=prepayment.order_ref)))
    if Effect.CANCEL_VISIT in effects:  # staff free the slot by hand only if the booking system cannot be told
        actions.append(_tell_booking(scene, prepayment, f"{key}:booking", BookingCommand.CANCEL, text(
            "prepayment_booking_expired", scene.language, amount=_money(prepayment.amount, prepayment.currency),
            deadline=_local_time(scene, prepayment.deadline_at), order=prepayment.order_ref), text(
            "prepayment_cancel_visit_task", scene.language, booking=prepayment.booking_id,
            order=prepayment.order_ref, deadline=_local_time(scene, prepayment.deadline_at))))
    if Effect.NOTIFY_CLIENT in effects:
        template = {PrepaymentStatus.PAID: config.templates.paid,
                    PrepaymentStatus.EXPIRED: config.templates.expired}.get(change.new_status)
        if template:
            context = dict(_booking_context(scene, prepayment.booking_id))
            if change.new_status is PrepaymentStatus.PAID:
                context |= {"amount": _money(prepayment.amount, prepayment.currency), "receipt": prepayment.receipt}
            actions.append(message(scene, template, f"{prepayment.booking_id}:{prepayment.attempt}", context,
                                   booking_id=prepayment.booking_id))
    return actions


def _tell_booking(scene: Scene, prepayment: PrepaymentState, key: str, command: BookingCommand, body: str,
                  fallback: str | None = None) -> UpdateBooking:
    return UpdateBooking(key=key, client_id=scene.client.id, booking_id=prepayment.booking_id, command=command,
                         text=body, branch=prepayment.branch, fallback_task=fallback, lead_key=_lead_of(scene))


def _lead_of(scene: Scene, new_lead: str | None = None) -> str | None:
    """The lead a prepayment shows on: one this event creates, else the client's newest open lead."""
    if new_lead:
        return new_lead
    lead = scene.snapshot.newest_open_lead()
    return lead.key if lead else None


def _lead_field(scene: Scene, key: str, status: PrepaymentStatus, new_lead: str | None = None) -> list[Action]:
    lead = _lead_of(scene, new_lead)
    if lead is None:
        return []
    return [UpdateFields(key=f"{key}:lead", client_id=scene.client.id, lead_key=lead,
                         fields={FIELD: CRM_OPTION[status]})]


def _lead_stage(scene: Scene, prepayment: PrepaymentState, status: PrepaymentStatus) -> list[Action]:
    """The grey clock as a stage: a Sales lead waiting at "prepayment" moves on to "first booking" once
    paid, and to the cancelled stage once expired (the visit is cancelled). Held money leaves it waiting
    for staff; a refund and a lead anywhere else (moved on, closed, another pipeline) are not moved."""
    lead = scene.snapshot.open_lead(Pipeline.SALES)
    if lead is None or lead.stage != PREPAYMENT:
        return []
    stage = {PrepaymentStatus.PAID: "first_booking",
             PrepaymentStatus.EXPIRED: scene.policy.sales_cancelled_stage}.get(status)
    if stage is None:
        return []
    return [move_lead(scene, lead, stage, f"{prepayment.order_ref or prepayment.booking_id}:{status.value}")]


def _contact_balance(scene: Scene, key: str) -> list[Action]:
    """The contact's ``balance`` field follows the card's, as the store left it after the change (an
    absolute value: coalesced with the client's other field updates, the newest wins)."""
    balance = scene.client.balance
    if balance is None:
        return []
    return [UpdateFields(key=f"{key}:balance", client_id=scene.client.id, fields={"balance": str(balance)})]


def _note(scene: Scene, prepayment: PrepaymentState, key: str, status: PrepaymentStatus,
          alert: str | None = None, lead_key: str | None = None) -> AddNote:
    body = text("prepayment_note", scene.language, amount=_money(prepayment.amount, prepayment.currency),
                booking=prepayment.booking_id, order=prepayment.order_ref or "—", status=status.value)
    return AddNote(key=f"note:{key}", client_id=scene.client.id, text=body + (f" {alert}" if alert else ""),
                   lead_key=_lead_of(scene, lead_key))


def _task(scene: Scene, key: str, body: str) -> CreateTask:
    return CreateTask(key=f"task:{key}", client_id=scene.client.id, task_kind=TaskKind.PREPAYMENT, text=body,
                      deadline=scene.now, lead_key=_lead_of(scene))


def _booking_context(scene: Scene, booking_id: str) -> Mapping[str, str | None]:
    visit = scene.visit(booking_id)
    if isinstance(scene, Occasion) and scene.booking_id == booking_id:
        start, services = scene.booking.start_at, scene.service_titles
    elif visit is not None:
        start, services = visit.start_at, ", ".join(visit.services)
    else:
        return {"name": scene.client.name, "service": None, "date": None, "time": None}
    return {"name": scene.client.name, "service": services, "date": local_date(start, scene.policy.timezone,
                                                                               scene.language),
            "time": start.astimezone(scene.policy.timezone).strftime("%H:%M")}


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount_text(amount, currency)} {currency}"


def _local_time(scene: Scene, at: datetime) -> str:
    local = at.astimezone(scene.policy.timezone)
    return f"{local_date(local, scene.policy.timezone, scene.language)} {local:%H:%M}"
