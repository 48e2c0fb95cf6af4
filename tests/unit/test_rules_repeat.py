"""Repeat visits: reminder before the due date, optional promo, Reminder due → Contacted → Rebooked."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from pipelines.actions import CreateLead, MoveLead, SendMessage, Skip
from pipelines.events import BookingStatus as S
from pipelines.planner import due
from pipelines.policy import Policy
from pipelines.snapshot import ClientState, LeadStatus
from pipelines.stages import Outcome, Pipeline
from tests.unit.playbook_sim import HAIRCUT, MANICURE, POLICY, T0, TZ, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
DUE = datetime(2026, 3, 23, 10, tzinfo=TZ)
REMIND_FROM = DUE - 7 * DAY


def regular(policy: Policy = POLICY, reachable: bool = True) -> Salon:
    client = ClientState("c1", "Olha", reachable=reachable, has_completed_visit=True)
    salon = Salon(policy=policy, snapshot=dataclasses.replace(Salon().snapshot, client=client))
    phone = "+380671234567" if reachable else None
    salon.send(ev("v1", S.SCHEDULED, T0, MANICURE, occurred=T0 - DAY, phone=phone))
    salon.send(ev("v1", S.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=2), phone=phone))
    return salon


def test_the_completed_visit_puts_the_client_in_repeat_visits_with_segment_fields():
    salon = regular()
    assert salon.lead(Pipeline.REPEAT).stage == "next_visit_expected"
    fields = next(a for a in salon.log if a.kind == "UpdateFields").fields
    assert fields["favourite_master"] == "Anna" and fields["last_category"] == "Manicure"


def test_the_reminder_goes_lead_days_before_the_due_date_and_the_lead_moves_to_contacted():
    salon = regular()
    assert salon.tick(REMIND_FROM - timedelta(hours=1)) == []
    actions = salon.tick(REMIND_FROM + timedelta(hours=2))
    [msg] = of(actions, SendMessage)
    assert msg.template == "repeat_reminder" and msg.context["service"] == "Gel manicure"
    assert msg.key == "msg:repeat_reminder:c1:manicure:v1"
    assert [m.stage for m in of(actions, MoveLead)] == ["contacted"]
    assert salon.tick(REMIND_FROM + 2 * DAY) == []  # said once


def test_without_a_way_to_message_the_lead_waits_at_reminder_due():
    salon = regular(reachable=False)
    actions = salon.tick(REMIND_FROM + timedelta(hours=2))
    assert of(actions, SendMessage) == [] and of(actions, Skip)
    assert [m.stage for m in of(actions, MoveLead)] == ["reminder_due"]


def test_the_promo_is_optional_and_goes_on_the_due_date():
    assert all(m.template != "promo" for m in of(regular().tick_daily(REMIND_FROM, 10), SendMessage))
    policy = dataclasses.replace(POLICY, triggers=POLICY.triggers | {"repeat_promo"}, promo_offer="-10%")
    salon = regular(policy)
    salon.tick(REMIND_FROM + timedelta(hours=1))
    assert salon.tick(DUE - timedelta(hours=1)) == []
    [promo] = of(salon.tick(DUE), SendMessage)
    assert promo.template == "promo" and promo.context["bonus"] == "-10%"


def test_a_booking_in_the_category_rebooks_the_client_and_silences_reminders():
    salon = regular()
    actions = salon.send(ev("v2", S.SCHEDULED, DUE + 2 * DAY, MANICURE, occurred=T0 + 5 * DAY))
    [won] = [m for m in of(actions, MoveLead) if m.pipeline is Pipeline.REPEAT]
    assert (won.stage, won.outcome) == ("won", Outcome.WON)
    assert salon.lead(Pipeline.REPEAT).status is LeadStatus.WON
    assert salon.tick_daily(REMIND_FROM, 5) == []


def test_a_booking_in_another_category_neither_rebooks_nor_silences():
    salon = regular()
    actions = salon.send(ev("v2", S.SCHEDULED, DUE + 2 * DAY, HAIRCUT, occurred=T0 + 5 * DAY))
    assert of(actions, MoveLead) == []
    assert of(salon.tick(REMIND_FROM + DAY), SendMessage)


def test_a_no_show_of_the_rebooking_lets_reminders_resume():
    salon = regular()
    salon.send(ev("v2", S.SCHEDULED, T0 + 10 * DAY, MANICURE, occurred=T0 + 5 * DAY))
    salon.send(ev("v2", S.NO_SHOW, T0 + 10 * DAY, MANICURE, occurred=T0 + 10 * DAY + timedelta(hours=2)))
    [msg] = of(salon.tick(REMIND_FROM + DAY), SendMessage)
    assert msg.template == "repeat_reminder"
    # the Repeat lead was won by v2; this cycle had that lead, so no second lead is made
    assert all(a.kind != "CreateLead" for a in salon.log[-3:])


def test_after_a_person_completed_the_task_the_robot_sends_nothing():
    salon = regular()
    salon.person_completes_task("manicure")
    assert salon.tick_daily(REMIND_FROM, 10) == []


def test_a_lead_a_person_moved_is_not_moved_by_the_clock():
    salon = regular()
    salon.person_moves_lead(salon.lead(Pipeline.REPEAT).key, "next_visit_expected")
    actions = salon.tick(REMIND_FROM + DAY)
    assert of(actions, SendMessage) and of(actions, MoveLead) == []


@pytest.mark.parametrize(("period", "lead"), [(14, 7), (21, 7), (30, 7), (42, 21), (75, 30), (180, 30)])
def test_the_default_reminder_lead(period, lead):
    assert POLICY.reminder_lead(period) == lead
    assert dataclasses.replace(POLICY, reminder_lead_days=3).reminder_lead(period) == 3


def test_quiet_hours_hold_the_reminder_until_morning():
    policy = dataclasses.replace(POLICY, quiet_hours=(time(21), time(9)))
    salon = regular(policy)
    late = REMIND_FROM.replace(hour=22)
    [msg] = of(salon.tick(late), SendMessage)
    assert msg.send_at == (late + DAY).replace(hour=9)


def test_the_frequency_cap_holds_the_reminder_until_the_window_frees():
    policy = dataclasses.replace(POLICY, frequency_cap=(2, 7))
    salon = regular(policy)
    now = REMIND_FROM + DAY
    recent = (now - 5 * DAY, now - 2 * DAY)
    salon.snapshot = dataclasses.replace(salon.snapshot, marketing_sent_at=recent)
    [msg] = of(due(salon.snapshot, policy, now), SendMessage)
    assert msg.send_at == recent[0] + 7 * DAY


def test_each_completed_visit_has_its_own_repeat_lead_and_the_clock_moves_that_one():
    salon = regular()  # Repeat lead from v1 (manicure)
    salon.send(ev("v2", S.COMPLETED, T0 + DAY, HAIRCUT, occurred=T0 + DAY))  # its own lead, beside v1's
    salon.send(ev("v3", S.SCHEDULED, T0 + 30 * DAY, MANICURE, occurred=T0 + 3 * DAY))  # wins v1's lead only
    leads = {x.key: (x.stage, x.status) for x in salon.snapshot.leads if x.pipeline is Pipeline.REPEAT}
    assert leads == {"lead:repeat:c1:v1": ("won", LeadStatus.WON),
                     "lead:repeat:c1:v2": ("next_visit_expected", LeadStatus.OPEN)}
    haircut_reminder = T0 + DAY + 21 * DAY
    actions = salon.tick(haircut_reminder)
    assert of(actions, CreateLead) == []
    assert [(m.lead_key, m.stage) for m in of(actions, MoveLead)] == [("lead:repeat:c1:v2", "contacted")]


def test_a_cycle_without_its_own_repeat_lead_gets_one_once():
    salon = regular()
    # a cycle stored without its own lead (its visit came while another visit's lead was open)
    salon.snapshot = dataclasses.replace(salon.snapshot, leads=(),
                                         applied=salon.snapshot.applied - {"lead:repeat:c1:v1"})
    reminder = REMIND_FROM
    created = of(salon.tick(reminder), CreateLead)
    assert [(c.key, c.stage) for c in created] == [("lead:repeat:c1:v1", "contacted")]
    assert of(salon.tick(reminder + DAY), CreateLead) == []


def test_an_earlier_booking_processed_later_takes_the_lead_over_and_a_cancelled_winner_gives_it_back():
    salon = regular()
    key = "lead:repeat:c1:v1"
    salon.send(ev("late", S.SCHEDULED, T0 + 40 * DAY, MANICURE, occurred=T0 + 3 * DAY, price=Decimal(900)))
    salon.send(ev("soon", S.SCHEDULED, T0 + 25 * DAY, MANICURE, occurred=T0 + 2 * DAY, price=Decimal(650)))
    moves = [(m.stage, m.price) for m in salon.log if isinstance(m, MoveLead) and m.lead_key == key]
    assert moves == [("won", 900), ("won", 650)]
    salon.send(ev("soon", S.CANCELLED, T0 + 25 * DAY, MANICURE, occurred=T0 + 4 * DAY, price=Decimal(650)))
    salon.send(ev("late", S.CANCELLED, T0 + 40 * DAY, MANICURE, occurred=T0 + 5 * DAY, price=Decimal(900)))
    moves = [(m.stage, m.price) for m in salon.log if isinstance(m, MoveLead) and m.lead_key == key]
    assert moves[2:] == [("won", 900), ("next_visit_expected", None)]
    assert salon.snapshot.lead(key).status is LeadStatus.OPEN


def test_a_late_report_of_an_older_visit_leaves_last_visit_at_the_newest_one():
    """A backlog can deliver an older visit's completion after a newer one's: the contact's "last visit"
    must not go back in time."""
    salon = regular()
    newer = T0 + 14 * DAY
    salon.send(ev("v2", S.COMPLETED, newer, MANICURE, occurred=newer + timedelta(hours=2)))
    older = T0 + 7 * DAY
    salon.send(ev("v3", S.COMPLETED, older, MANICURE, occurred=newer + timedelta(hours=3)))
    fields = [a.fields for a in salon.log if a.kind == "UpdateFields"][-1]
    assert fields["last_visit"].startswith(newer.date().isoformat())
