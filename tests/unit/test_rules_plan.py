"""plan() as a whole: bookkeeping kept, clientless bookings, out-of-order events, applied keys."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from pipelines.actions import RecordVisit, SendMessage, Skip
from pipelines.events import BookingStatus as S
from pipelines.planner import plan
from pipelines.snapshot import Snapshot
from pipelines.transitions import Transition
from tests.unit.playbook_sim import HAIRCUT, MANICURE, POLICY, T0, Salon, kinds, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)


def test_a_booking_without_a_client_gets_only_its_bookkeeping():
    actions = plan(ev("v1", S.SCHEDULED, T0 + DAY, MANICURE, occurred=T0), Snapshot(), POLICY, T0)
    assert kinds(actions) == ["RecordVisit"]
    assert actions[0].categories == ("manicure",)


def test_the_first_action_is_always_the_visit_record():
    actions = Salon().send(ev("v1", S.CONFIRMED, T0 + DAY, MANICURE, HAIRCUT, occurred=T0))
    assert isinstance(actions[0], RecordVisit)
    assert actions[0].transitions == (Transition.CREATED, Transition.CONFIRMED)
    assert actions[0].categories == ("manicure", "haircut")


def test_a_cancellation_before_the_creation_is_planned_as_the_booking_and_its_cancellation_without_messages():
    salon = Salon()
    salon.send(ev("v0", S.COMPLETED, T0 - 21 * DAY, MANICURE, occurred=T0 - 21 * DAY))  # a manicure cycle is open
    actions = salon.send(ev("v1", S.CANCELLED, T0 + 3 * DAY, MANICURE, occurred=T0 + DAY))
    assert of(actions, SendMessage) == [] and not any(a.kind == "CancelMessage" for a in actions)
    [record] = of(actions, RecordVisit)
    assert record.transitions == (Transition.CREATED, Transition.CANCELLED)
    # the task the booking closed is restored, as when its creation had come first
    assert [a.kind for a in actions if a.kind in ("CompleteTask", "RestoreTask", "AddNote")] == [
        "CompleteTask", "RestoreTask", "AddNote"]
    assert salon.send(ev("v1", S.SCHEDULED, T0 + 3 * DAY, MANICURE, occurred=T0)) == []


def test_an_update_before_the_creation_counts_as_the_creation():
    actions = Salon().send(ev("v1", S.CONFIRMED, T0 + 3 * DAY, MANICURE, occurred=T0))
    assert {m.template for m in of(actions, SendMessage)} == {"welcome", "confirmation", "reminder_24h"}


def test_actions_already_applied_are_not_planned_again():
    salon = Salon()
    event = ev("v1", S.SCHEDULED, T0 + 3 * DAY, MANICURE, occurred=T0)
    first = plan(event, salon.snapshot_for(event), POLICY, T0)
    half = frozenset(a.key for a in first[: len(first) // 2])
    again = plan(event, dataclasses.replace(salon.snapshot_for(event), applied=half), POLICY, T0)
    assert [a.key for a in again] == [a.key for a in first[len(first) // 2 :]]


def test_every_skip_carries_its_rule_and_reason():
    salon = Salon()
    salon.send(ev("v1", S.COMPLETED, T0, MANICURE.__class__("x", "Mystery"), occurred=T0))
    for skip in of(salon.log, Skip):
        assert skip.rule and skip.reason and skip.key.startswith("skip:")
