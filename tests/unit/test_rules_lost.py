"""Lost clients: threshold, segment fields, reminder → come-back promo → manager call → lost for good."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from pipelines.actions import CreateLead, CreateTask, MoveLead, RecordLostStep, SendMessage, Skip, TaskKind
from pipelines.events import BookingStatus as S
from pipelines.policy import Policy
from pipelines.rules.segments import favourite_master
from pipelines.snapshot import ClientState, LostStep, VisitState
from pipelines.stages import Outcome, Pipeline
from tests.unit.playbook_sim import HAIRCUT, MANICURE, POLICY, T0, TZ, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
DUE = datetime(2026, 3, 23, 10, tzinfo=TZ)
LOST_AT = DUE + 30 * DAY


def regular(policy: Policy = POLICY, reachable: bool = True) -> Salon:
    client = ClientState("c1", "Olha", reachable=reachable, has_completed_visit=True)
    salon = Salon(policy=policy, snapshot=dataclasses.replace(Salon().snapshot, client=client))
    for i, master in enumerate(["Iryna", "Anna", "Anna"]):
        start = T0 - (2 - i) * 21 * DAY
        salon.send(ev(f"v{i}", S.COMPLETED, start, MANICURE, occurred=start, master=master, branch="b2"))
    return salon


def entered(salon: Salon) -> list:
    return salon.tick(LOST_AT)


def test_a_client_overdue_past_the_threshold_enters_lost_clients_with_segment_fields():
    salon = regular(dataclasses.replace(POLICY, branch_names={"b2": "Podil"}))
    salon.tick_daily(DUE - 7 * DAY, 10)  # the Repeat visits reminder went on time
    assert salon.tick(LOST_AT - timedelta(minutes=1)) == []
    actions = entered(salon)
    [lead] = of(actions, CreateLead)
    assert (lead.pipeline, lead.stage) == (Pipeline.LOST, "reminder")
    assert lead.fields == {
        "branch": "Podil",
        "favourite_master": "Anna",
        "last_category": "Manicure",
        "last_visit": "2026-03-02T12:00:00+02:00",  # RFC 3339: amoCRM date fields take it as is
    }
    assert [(m.pipeline, m.outcome) for m in of(actions, MoveLead)] == [(Pipeline.REPEAT, Outcome.LOST)]
    assert [m.template for m in of(actions, SendMessage)] == ["lost_reminder"]
    assert of(actions, RecordLostStep)[0].step is LostStep.REMINDER


def test_the_sequence_runs_promo_then_call_then_lost_for_good():
    salon = regular(dataclasses.replace(POLICY, promo_offer="-20%"))
    entered(salon)
    assert salon.tick(LOST_AT + 6 * DAY) == []
    promo = salon.tick(LOST_AT + 7 * DAY)
    [msg] = of(promo, SendMessage)
    assert (msg.template, msg.context["master"], msg.context["bonus"]) == ("lost_master_promo", "Anna", "-20%")
    assert [m.stage for m in of(promo, MoveLead)] == ["come_back_promo"]
    call = salon.tick(LOST_AT + 14 * DAY)
    [task] = of(call, CreateTask)
    assert task.task_kind is TaskKind.LOST_CALL and "Anna" in task.text and task.lead_key == "lead:lost:c1:v2"
    assert salon.tick(LOST_AT + 27 * DAY) == []
    final = salon.tick(LOST_AT + 28 * DAY)
    assert [(m.stage, m.outcome) for m in of(final, MoveLead)] == [("lost", Outcome.LOST)]
    assert salon.tick_daily(LOST_AT + 29 * DAY, 60) == []


def test_any_new_booking_wins_the_lost_lead_and_stops_the_sequence():
    salon = regular()
    entered(salon)
    actions = salon.send(ev("v9", S.SCHEDULED, LOST_AT + 5 * DAY, HAIRCUT, occurred=LOST_AT + DAY, branch="b1"))
    [won] = [m for m in of(actions, MoveLead) if m.pipeline is Pipeline.LOST]
    assert won.outcome is Outcome.WON
    assert salon.snapshot.lost.step is LostStep.RETURNED
    assert salon.tick_daily(LOST_AT + 2 * DAY, 30) == []


def test_a_booking_to_come_in_any_category_or_branch_keeps_the_client_out():
    salon = regular()
    salon.send(ev("v9", S.SCHEDULED, LOST_AT + 5 * DAY, HAIRCUT, occurred=LOST_AT - DAY, branch="b9"))
    assert of(entered(salon), CreateLead) == []


def test_a_client_still_coming_for_another_category_is_not_lost():
    salon = regular()
    salon.send(ev("h1", S.COMPLETED, DUE, HAIRCUT, occurred=DUE))
    actions = entered(salon)
    assert of(actions, CreateLead) == [] and of(actions, RecordLostStep) == []


def test_the_threshold_is_per_category():
    salon = regular(dataclasses.replace(POLICY, lost_after_by_category={"manicure": 10}))
    assert of(salon.tick(DUE + 10 * DAY), CreateLead)


def test_a_person_taking_over_the_lead_stops_the_robot():
    salon = regular()
    entered(salon)
    salon.person_moves_lead("lead:lost:c1:v2", "manager_call")
    actions = salon.tick(LOST_AT + 7 * DAY)
    assert [a.step for a in of(actions, RecordLostStep)] == [LostStep.TAKEN_OVER]
    assert salon.tick_daily(LOST_AT + 8 * DAY, 40) == []


def test_with_promos_off_the_step_still_happens_without_a_message():
    salon = regular(dataclasses.replace(POLICY, promo=False))
    entered(salon)
    actions = salon.tick(LOST_AT + 7 * DAY)
    assert of(actions, SendMessage) == [] and "promo switched off" in of(actions, Skip)[0].reason
    assert of(salon.tick(LOST_AT + 14 * DAY), CreateTask)


def test_an_unreachable_client_still_gets_the_manager_call():
    salon = regular(reachable=False)
    assert of(entered(salon), SendMessage) == []
    salon.tick(LOST_AT + 7 * DAY)
    assert of(salon.tick(LOST_AT + 14 * DAY), CreateTask)


def test_the_sequence_can_be_switched_off():
    salon = regular(dataclasses.replace(POLICY, triggers=POLICY.triggers - {"lost_sequence"}))
    assert entered(salon) == []


def _visit(vid: str, days_ago: int, master: str) -> VisitState:
    return VisitState(vid, S.COMPLETED, T0 - timedelta(days=days_ago), None, T0, staff_name=master)


def test_the_favourite_master_is_the_most_frequent_and_ties_go_to_the_most_recent():
    newest_first = [_visit("a", 1, "Olena"), _visit("b", 30, "Anna"), _visit("c", 60, "Olena"), _visit("d", 90, "Anna")]
    assert favourite_master(newest_first, 5) == "Olena"
    assert favourite_master([_visit("a", 1, "Anna"), *newest_first], 5) == "Anna"
    assert favourite_master(newest_first, 1) == "Olena"
    assert favourite_master([], 5) is None
