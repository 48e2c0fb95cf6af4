"""Paid booking in the plan: which bookings ask for a prepayment, and what each status change shows."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from config.prepayment_model import (
    AmountKind,
    AmountSpec,
    Exemptions,
    PaidThenCancelled,
    PrepaymentConfig,
    PrepaymentRule,
)
from pipelines.actions import (
    AddNote,
    BookingCommand,
    ChangePrepayment,
    CreateLead,
    CreateTask,
    MoveLead,
    RequestPrepayment,
    SendMessage,
    Skip,
    UpdateBooking,
    UpdateFields,
)
from pipelines.events import BookingStatus as S
from pipelines.prepayment import Effect, Outcome, PrepaymentStatus, StatusChange
from pipelines.rules.context import Scene
from pipelines.rules.prepayment import on_change
from pipelines.stages import PREPAYMENT, Pipeline
from tests.unit.playbook_sim import HAIRCUT, MANICURE, POLICY, T0, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
MANICURE_PRICED = dataclasses.replace(MANICURE, price=Decimal("800"))
CONFIG = PrepaymentConfig(
    provider="liqpay",
    rules=(PrepaymentRule(name="manicure", categories=("Манікюр",),
                          amount=AmountSpec(AmountKind.PERCENT, Decimal(25))),),
    currency="UAH",
    exempt=Exemptions(completed_visits=3),
)
PAYING = dataclasses.replace(POLICY, prepayment=CONFIG, currency="UAH")


def salon(config: PrepaymentConfig = CONFIG) -> Salon:
    return Salon(policy=dataclasses.replace(PAYING, prepayment=config))


def book(s: Salon, booking: str = "b1", service=MANICURE_PRICED, status=S.SCHEDULED, occurred=T0):
    return s.send(ev(booking, status, T0 + 5 * DAY, service, occurred=occurred), now=occurred)


def test_a_first_booking_a_rule_selects_asks_for_a_prepayment_on_its_new_lead():
    s = salon()
    actions = book(s)
    [request] = of(actions, RequestPrepayment)
    assert (request.amount, request.currency, request.attempt, request.provider) == (Decimal("200.00"), "UAH", 1,
                                                                                     "liqpay")
    assert T0 < request.deadline_at <= T0 + 5 * DAY - timedelta(hours=12)
    [lead] = of(actions, CreateLead)
    [field] = [a for a in of(actions, UpdateFields) if a.lead_key]
    assert field.lead_key == lead.key and field.fields == {"prepayment_status": "pending"}
    [link] = [m for m in of(actions, SendMessage) if m.template == "prepayment_link"]
    assert link.context["amount"] == "200.00 UAH" and link.booking_id == "b1" and link.context["deadline"]
    assert any("200.00 UAH" in n.text and n.lead_key == lead.key for n in of(actions, AddNote))


def test_no_rule_no_prepayment_and_the_plan_says_why():
    actions = book(salon(), service=HAIRCUT)
    assert of(actions, RequestPrepayment) == []
    assert any(isinstance(a, Skip) and "no_rule" in a.reason for a in actions)


def test_a_regular_client_is_exempt():
    s = salon()
    for i in range(3):
        book(s, f"v{i}", status=S.COMPLETED, occurred=T0 + i * DAY)
    actions = book(s, "b9", occurred=T0 + 4 * DAY)
    assert of(actions, RequestPrepayment) == []
    assert any(isinstance(a, Skip) and "exempt" in a.reason for a in actions)


def test_a_booking_cancelled_before_paying_cancels_its_prepayment():
    s = salon()
    book(s)
    actions = book(s, status=S.CANCELLED, occurred=T0 + timedelta(hours=1))
    [change] = of(actions, ChangePrepayment)
    assert (change.old_status, change.new_status) == ("pending", "cancelled")
    assert any(a.fields == {"prepayment_status": "expired"} for a in of(actions, UpdateFields) if a.lead_key)
    assert s.snapshot.prepayment("b1").status == "cancelled"


def test_a_booking_restored_after_its_prepayment_was_cancelled_asks_again_with_a_new_attempt():
    s = salon()
    book(s)
    book(s, status=S.CANCELLED, occurred=T0 + timedelta(hours=1))
    actions = book(s, status=S.SCHEDULED, occurred=T0 + timedelta(hours=2))
    [request] = of(actions, RequestPrepayment)
    assert request.attempt == 2


def test_a_paid_booking_cancelled_by_the_client_follows_the_salons_policy():
    for policy, tasks in ((PaidThenCancelled.KEEP, 0), (PaidThenCancelled.REFUND_REQUEST, 1)):
        s = salon(dataclasses.replace(CONFIG, paid_then_cancelled=policy))
        book(s)
        paid = dataclasses.replace(s.snapshot.prepayment("b1"), status="paid")
        s.snapshot = dataclasses.replace(s.snapshot, prepayments=(paid,))
        actions = book(s, status=S.CANCELLED, occurred=T0 + timedelta(hours=1))
        assert of(actions, ChangePrepayment) == []  # paid stays paid: a deposit, or money staff refund
        assert len([t for t in of(actions, CreateTask) if "refund" in t.key]) == tasks


def test_a_rescheduled_booking_keeps_its_prepayment_paid_or_not():
    for status in ("pending", "paid"):
        s = salon()
        book(s)
        s.snapshot = dataclasses.replace(s.snapshot, prepayments=(
            dataclasses.replace(s.snapshot.prepayment("b1"), status=status),))
        moved = s.send(ev("b1", S.SCHEDULED, T0 + 8 * DAY, MANICURE_PRICED, occurred=T0 + DAY), now=T0 + DAY)
        assert of(moved, RequestPrepayment) == of(moved, ChangePrepayment) == []  # no new attempt, no new link
        assert not [m for m in of(moved, SendMessage) if m.template.startswith("prepayment")]
        assert s.snapshot.prepayment("b1").status == status


def change(old, new, *effects, alert=None):
    return StatusChange(old, new, Outcome.APPLIED if old is not new else Outcome.NO_CHANGE, alert, effects)


def scene_of(s: Salon) -> Scene:
    return Scene(snapshot=s.snapshot, policy=s.policy, now=T0 + DAY, client=s.snapshot.client)


def test_paid_shows_green_on_the_lead_thanks_the_client_and_comments_on_the_visit():
    s = salon()
    book(s)
    state = dataclasses.replace(s.snapshot.prepayment("b1"), receipt="PP-000007", branch="111111")
    actions = on_change(scene_of(s), state, change(PrepaymentStatus.PENDING, PrepaymentStatus.PAID,
                                                   Effect.UPDATE_LEAD, Effect.UPDATE_BOOKING, Effect.NOTIFY_CLIENT,
                                                   Effect.NOTIFY_ADMIN),
                        "cb:1")
    assert [a.fields for a in of(actions, UpdateFields)] == [{"prepayment_status": "paid"}]
    assert [m.template for m in of(actions, SendMessage)] == ["prepayment_paid"]
    assert of(actions, AddNote) and of(actions, CreateTask) == []
    [tell] = of(actions, UpdateBooking)
    assert (tell.command, tell.booking_id, tell.branch, tell.fallback_task) == (
        BookingCommand.COMMENT, "b1", "111111", None)
    assert "PP-000007" in tell.text


def test_expired_cancels_the_visit_in_the_booking_system_and_tells_the_client():
    s = salon()
    book(s)
    state = s.snapshot.prepayment("b1")
    actions = on_change(scene_of(s), state, change(PrepaymentStatus.PENDING, PrepaymentStatus.EXPIRED,
                                                   Effect.CANCEL_VISIT, Effect.UPDATE_LEAD, Effect.NOTIFY_CLIENT),
                        "deadline")
    assert [a.fields for a in of(actions, UpdateFields)] == [{"prepayment_status": "expired"}]
    assert [m.template for m in of(actions, SendMessage)] == ["prepayment_expired"]
    assert of(actions, CreateTask) == []  # a task only if the booking system cannot cancel it
    [tell] = of(actions, UpdateBooking)
    assert tell.command is BookingCommand.CANCEL and "b1" in (tell.fallback_task or "")


def test_held_money_becomes_a_task_with_the_alert():
    s = salon()
    book(s)
    state = s.snapshot.prepayment("b1")
    actions = on_change(scene_of(s), state, change(PrepaymentStatus.PENDING, PrepaymentStatus.HELD,
                                                   Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN,
                                                   alert="paid 150.00 UAH, asked 200.00 UAH"), "cb:2")
    [task] = of(actions, CreateTask)
    assert "150.00 UAH" in task.text
    assert of(actions, SendMessage) == []


# --- the grey clock as a Sales stage, and the contact's balance ---------------------------------------

def test_a_first_booking_that_asks_for_a_prepayment_waits_at_the_prepayment_stage_one_that_does_not_is_booked():
    [lead] = of(book(salon()), CreateLead)
    assert (lead.pipeline, lead.stage) == (Pipeline.SALES, PREPAYMENT)
    [lead] = of(book(salon(), service=HAIRCUT), CreateLead)  # no rule selects a haircut
    assert lead.stage == "first_booking"
    [lead] = of(book(Salon(policy=POLICY)), CreateLead)  # a salon that takes no prepayments
    assert lead.stage == "first_booking"


def test_a_first_booking_restored_after_its_prepayment_was_cancelled_waits_at_the_prepayment_stage_again():
    s = salon()
    book(s)
    book(s, status=S.CANCELLED, occurred=T0 + timedelta(hours=1))
    assert s.snapshot.open_lead(Pipeline.SALES).stage == "cancelled"
    actions = book(s, status=S.SCHEDULED, occurred=T0 + timedelta(hours=2))
    assert [(m.stage, m.pipeline) for m in of(actions, MoveLead)] == [(PREPAYMENT, Pipeline.SALES)]


def with_balance(s: Salon, balance: str | None) -> Salon:
    client = dataclasses.replace(s.snapshot.client, balance=None if balance is None else Decimal(balance))
    s.snapshot = dataclasses.replace(s.snapshot, client=client)
    return s


PAID = (Effect.RECORD_INCOME, Effect.TOP_UP_BALANCE, Effect.UPDATE_LEAD, Effect.UPDATE_BOOKING, Effect.NOTIFY_ADMIN,
        Effect.NOTIFY_CLIENT)
EXPIRED = (Effect.REMOVE_INVOICE, Effect.CANCEL_VISIT, Effect.UPDATE_LEAD, Effect.NOTIFY_CLIENT)
REFUNDED = (Effect.RECORD_REFUND, Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN)


def contact_fields(actions) -> list[dict]:
    return [dict(a.fields) for a in of(actions, UpdateFields) if a.lead_key is None]


def test_paid_moves_the_waiting_lead_on_to_first_booking_and_writes_the_topped_up_balance_on_the_contact():
    s = with_balance(salon(), None)
    book(s)
    with_balance(s, "200.00")  # the store topped the card up before the change is shown
    lead = s.snapshot.open_lead(Pipeline.SALES)
    actions = on_change(scene_of(s), s.snapshot.prepayment("b1"),
                        change(PrepaymentStatus.PENDING, PrepaymentStatus.PAID, *PAID), "cb:1")
    [move] = of(actions, MoveLead)
    assert (move.lead_key, move.pipeline, move.stage) == (lead.key, Pipeline.SALES, "first_booking")
    assert contact_fields(actions) == [{"balance": "200.00"}]
    again = on_change(scene_of(s), s.snapshot.prepayment("b1"),
                      change(PrepaymentStatus.PENDING, PrepaymentStatus.PAID, *PAID), "cb:2")
    assert [a.key for a in again] == [a.key for a in actions]  # a second delivery plans the same keys


def test_expired_moves_the_waiting_lead_to_the_cancelled_stage_and_leaves_the_balance_alone():
    s = with_balance(salon(), "50.00")
    book(s)
    actions = on_change(scene_of(s), s.snapshot.prepayment("b1"),
                        change(PrepaymentStatus.PENDING, PrepaymentStatus.EXPIRED, *EXPIRED), "deadline")
    assert [m.stage for m in of(actions, MoveLead)] == ["cancelled"]
    assert contact_fields(actions) == []
    s.policy = dataclasses.replace(s.policy, sales_cancelled_stage="no_show")  # the salon's own choice
    actions = on_change(scene_of(s), s.snapshot.prepayment("b1"),
                        change(PrepaymentStatus.PENDING, PrepaymentStatus.EXPIRED, *EXPIRED), "deadline")
    assert [m.stage for m in of(actions, MoveLead)] == ["no_show"]


def test_a_refund_takes_the_balance_back_on_the_contact_and_leaves_the_lead_where_it_is():
    s = salon()
    book(s)
    s.snapshot = dataclasses.replace(s.snapshot, leads=tuple(
        dataclasses.replace(lead, stage="first_booking") for lead in s.snapshot.leads))  # paid earlier
    with_balance(s, "0.00")
    actions = on_change(scene_of(s), s.snapshot.prepayment("b1"),
                        change(PrepaymentStatus.PAID, PrepaymentStatus.REFUNDED, *REFUNDED), "cb:3")
    assert of(actions, MoveLead) == []
    assert contact_fields(actions) == [{"balance": "0.00"}]
    assert [a.fields for a in of(actions, UpdateFields) if a.lead_key] == [{"prepayment_status": "refunded"}]


def test_held_money_and_duplicates_move_nothing_and_write_no_balance():
    s = with_balance(salon(), "200.00")
    book(s)
    state = s.snapshot.prepayment("b1")
    held = on_change(scene_of(s), state, change(PrepaymentStatus.PENDING, PrepaymentStatus.HELD,
                                                Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN, alert="paid 20"), "cb:4")
    duplicate = on_change(scene_of(s), state, change(PrepaymentStatus.PAID, PrepaymentStatus.PAID), "cb:5")
    for actions in (held, duplicate):
        assert of(actions, MoveLead) == [] and contact_fields(actions) == []


def test_a_lead_not_waiting_at_the_prepayment_stage_is_never_moved_by_a_prepayment():
    s = with_balance(salon(), "200.00")
    book(s, service=HAIRCUT)  # the first booking asked for nothing: its lead is at "first booking"
    book(s, "b2", occurred=T0 + timedelta(hours=1))  # a second one asks, the lead stays where it is
    assert s.snapshot.open_lead(Pipeline.SALES).stage == "first_booking"
    for new, effects in ((PrepaymentStatus.PAID, PAID), (PrepaymentStatus.EXPIRED, EXPIRED)):
        actions = on_change(scene_of(s), s.snapshot.prepayment("b2"), change(PrepaymentStatus.PENDING, new, *effects),
                            "x")
        assert of(actions, MoveLead) == []
    s.snapshot = dataclasses.replace(s.snapshot, leads=())  # no lead at all (e.g. Repeat lead already won)
    actions = on_change(scene_of(s), s.snapshot.prepayment("b2"),
                        change(PrepaymentStatus.PENDING, PrepaymentStatus.PAID, *PAID), "x")
    assert of(actions, MoveLead) == [] and contact_fields(actions) == [{"balance": "200.00"}]
