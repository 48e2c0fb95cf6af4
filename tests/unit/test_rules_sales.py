"""Sales pipeline: first booking → first visit (DESIGN §6 rules 1–2, seed 002's new-client trigger)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from pipelines.actions import CreateLead, CreateTask, MoveLead, SendMessage, Skip, TaskKind, UpsertContact
from pipelines.events import BookingStatus as S
from pipelines.snapshot import ClientState
from pipelines.stages import Outcome, Pipeline
from tests.unit.playbook_sim import MANICURE, POLICY, T0, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
BONUS = dataclasses.replace(POLICY, welcome_bonus="-15% on your first visit", salon_name="Studio")


def first_booking(salon: Salon | None = None, **kw) -> tuple[Salon, list]:
    salon = salon or Salon(policy=BONUS)
    return salon, salon.send(ev("v1", S.SCHEDULED, T0 + 3 * DAY, MANICURE, occurred=T0, **kw))


def test_a_first_booking_creates_the_contact_the_sales_lead_and_the_welcome():
    salon, actions = first_booking()
    assert of(actions, UpsertContact)[0].phone == "+380671234567"
    [lead] = of(actions, CreateLead)
    assert (lead.pipeline, lead.stage) == (Pipeline.SALES, "first_booking")
    [welcome] = [m for m in of(actions, SendMessage) if m.template == "welcome"]
    assert welcome.context["bonus"] == "-15% on your first visit"
    assert welcome.key == "msg:welcome:c1:first"


def test_the_welcome_goes_once_per_client_and_one_sales_lead_is_enough():
    salon, _ = first_booking()
    actions = salon.send(ev("v2", S.SCHEDULED, T0 + 5 * DAY, MANICURE, occurred=T0 + DAY))
    assert of(actions, CreateLead) == []
    assert [m for m in of(actions, SendMessage) if m.template == "welcome"] == []


def test_the_first_visit_wins_the_sales_lead_and_enters_repeat_visits():
    salon, _ = first_booking()
    actions = salon.send(ev("v1", S.COMPLETED, T0 + 3 * DAY, MANICURE, occurred=T0 + 3 * DAY))
    [won] = [m for m in of(actions, MoveLead) if m.pipeline is Pipeline.SALES]
    assert (won.stage, won.outcome) == ("won", Outcome.WON)
    [repeat] = of(actions, CreateLead)
    assert (repeat.pipeline, repeat.stage) == (Pipeline.REPEAT, "next_visit_expected")


def test_a_returning_client_gets_no_sales_lead_and_no_welcome():
    salon = Salon(
        snapshot=dataclasses.replace(
            Salon().snapshot, client=ClientState("c1", "Olha", reachable=True, has_completed_visit=True)
        )
    )
    _, actions = first_booking(salon)
    assert of(actions, CreateLead) == []
    assert all(m.template != "welcome" for m in of(actions, SendMessage))


@pytest.mark.parametrize(
    ("status", "stage", "words"), [(S.NO_SHOW, "no_show", "missed"), (S.CANCELLED, "cancelled", "cancelled")]
)
def test_a_missed_first_booking_moves_the_lead_and_asks_for_a_call(status, stage, words):
    salon, _ = first_booking()
    actions = salon.send(ev("v1", status, T0 + 3 * DAY, MANICURE, occurred=T0 + 3 * DAY))
    [moved] = of(actions, MoveLead)
    assert moved.stage == stage
    [task] = of(actions, CreateTask)
    assert task.task_kind is TaskKind.SALES_CALL and words in task.text and task.lead_key == moved.lead_key


def test_the_missed_stage_is_configurable():
    policy = dataclasses.replace(BONUS, sales_no_show_stage="cancelled")
    salon, _ = first_booking(Salon(policy=policy))
    actions = salon.send(ev("v1", S.NO_SHOW, T0 + 3 * DAY, MANICURE, occurred=T0 + 3 * DAY))
    assert of(actions, MoveLead)[0].stage == "cancelled"


def test_a_cancellation_with_a_rebooking_to_come_asks_for_nothing():
    salon, _ = first_booking()
    salon.send(ev("v2", S.SCHEDULED, T0 + 6 * DAY, MANICURE, occurred=T0 + DAY))
    actions = salon.send(ev("v1", S.CANCELLED, T0 + 3 * DAY, MANICURE, occurred=T0 + 2 * DAY))
    assert of(actions, MoveLead) == [] and of(actions, CreateTask) == []
    assert "v2" in of(actions, Skip)[0].reason


def test_booking_again_after_a_missed_first_visit_moves_the_lead_back():
    salon, _ = first_booking()
    salon.send(ev("v1", S.CANCELLED, T0 + 3 * DAY, MANICURE, occurred=T0 + 2 * DAY))
    actions = salon.send(ev("v2", S.SCHEDULED, T0 + 6 * DAY, MANICURE, occurred=T0 + 2 * DAY + timedelta(hours=1)))
    assert [m.stage for m in of(actions, MoveLead)] == ["first_booking"]
    assert of(actions, CreateLead) == []


def test_a_client_with_no_phone_or_email_gets_the_crm_work_but_no_messages():
    salon = Salon(policy=BONUS, snapshot=dataclasses.replace(Salon().snapshot, client=ClientState("c1", "Olha")))
    _, actions = first_booking(salon, phone=None)
    assert of(actions, CreateLead) and of(actions, SendMessage) == []
    assert all("neither phone nor email" in s.reason for s in of(actions, Skip))


def test_the_welcome_trigger_can_be_switched_off():
    policy = dataclasses.replace(BONUS, triggers=BONUS.triggers - {"welcome"})
    _, actions = first_booking(Salon(policy=policy))
    assert all(m.template != "welcome" for m in of(actions, SendMessage))
