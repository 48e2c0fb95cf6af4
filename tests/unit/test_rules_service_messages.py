"""Booking confirmation, reminder before the visit, review request after it (seed 001)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

from pipelines.actions import CancelMessage, SendMessage, Skip
from pipelines.events import BookingStatus as S
from pipelines.snapshot import ClientState
from tests.unit.playbook_sim import MANICURE, POLICY, T0, TZ, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
VISIT = datetime(2026, 3, 10, 15, tzinfo=TZ)


def sent(actions: list, template: str) -> list[SendMessage]:
    return [m for m in of(actions, SendMessage) if m.template == template]


def test_a_new_booking_is_confirmed_and_reminded_24_hours_before():
    actions = Salon().send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    [confirmation] = sent(actions, "confirmation")
    assert confirmation.send_at is None
    assert confirmation.context == {
        "name": "Olha",
        "service": "Gel manicure",
        "master": "Anna",
        "branch": "",
        "date": "2026-03-10",
        "time": "15:00",
    }
    [reminder] = sent(actions, "reminder_24h")
    assert reminder.send_at == VISIT - DAY and reminder.booking_id == "v1"


def test_the_reminder_is_moved_before_quiet_hours_not_after():
    policy = dataclasses.replace(POLICY, quiet_hours=(time(21), time(9)))
    late_visit = VISIT.replace(hour=21, minute=30)
    [reminder] = sent(
        Salon(policy=policy).send(ev("v1", S.SCHEDULED, late_visit, MANICURE, occurred=T0)), "reminder_24h"
    )
    assert reminder.send_at == (late_visit - DAY).replace(hour=20, minute=59)


def test_a_booking_made_less_than_24_hours_ahead_gets_no_separate_reminder():
    actions = Salon().send(ev("v1", S.SCHEDULED, T0 + timedelta(hours=5), MANICURE, occurred=T0))
    assert sent(actions, "confirmation") and sent(actions, "reminder_24h") == []
    assert any(s.rule == "reminder_24h" for s in of(actions, Skip))


def test_a_reschedule_replaces_the_pending_reminder():
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    actions = salon.send(ev("v1", S.SCHEDULED, VISIT + DAY, MANICURE, occurred=T0 + DAY))
    assert [c.booking_id for c in of(actions, CancelMessage)] == ["v1"]
    assert [m.send_at for m in sent(actions, "reminder_24h")] == [VISIT]
    assert sent(actions, "confirmation") == []


def test_a_cancellation_drops_the_pending_reminder():
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    actions = salon.send(ev("v1", S.CANCELLED, VISIT, MANICURE, occurred=T0 + DAY))
    assert [c.template for c in of(actions, CancelMessage)] == ["reminder_24h"]
    assert salon.sent("reminder_24h") == []


def test_a_restored_booking_is_reminded_again_but_not_confirmed_twice():
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    salon.send(ev("v1", S.CANCELLED, VISIT, MANICURE, occurred=T0 + DAY))
    actions = salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0 + 2 * DAY))
    assert sent(actions, "confirmation") == [] and len(sent(actions, "reminder_24h")) == 1


def test_a_completed_visit_asks_for_a_review_after_the_delay():
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    actions = salon.send(ev("v1", S.COMPLETED, VISIT, MANICURE, occurred=VISIT + timedelta(minutes=70)))
    [review] = sent(actions, "review_request")
    assert review.send_at == VISIT + timedelta(hours=3) and review.context == {"name": "Olha", "master": "Anna"}


def test_an_old_visit_gets_no_review_request():
    actions = Salon().send(ev("v1", S.COMPLETED, VISIT, MANICURE, occurred=VISIT), now=VISIT + 5 * DAY)
    assert sent(actions, "review_request") == []
    assert any(s.rule == "review_request" for s in of(actions, Skip))


def test_an_opted_out_client_still_gets_booking_messages_but_no_review_request():
    client = ClientState("c1", "Olha", reachable=True, opted_out=True, has_completed_visit=True)
    salon = Salon(snapshot=dataclasses.replace(Salon().snapshot, client=client))
    actions = salon.send(ev("v1", S.SCHEDULED, VISIT, MANICURE, occurred=T0))
    assert sent(actions, "confirmation") and sent(actions, "reminder_24h")
    actions = salon.send(ev("v1", S.COMPLETED, VISIT, MANICURE, occurred=VISIT + timedelta(hours=1)))
    assert sent(actions, "review_request") == []
    assert any("opted out" in s.reason for s in of(actions, Skip))


def test_a_booking_in_the_past_gets_no_confirmation():
    actions = Salon().send(ev("v1", S.SCHEDULED, T0 - DAY, MANICURE, occurred=T0))
    assert of(actions, SendMessage) == []
