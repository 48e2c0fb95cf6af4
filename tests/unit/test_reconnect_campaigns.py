"""Reconnect campaigns, the pure rules: what one contact plans, and when the clock follows up (seed 004)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from config.reconnect_model import ReconnectSettings
from pipelines.actions import (
    AddNote,
    CreateLead,
    CreateTask,
    RecordReconnectContact,
    RecordReconnectFollowUp,
    SendMessage,
    Skip,
    TaskKind,
)
from pipelines.events import BookingStatus
from pipelines.planner import due, reconnect_contact
from pipelines.rules.reconnect import Target
from pipelines.snapshot import ClientState, ReconnectContact, Snapshot, VisitState
from pipelines.stages import Pipeline
from pipelines.templates import EXECUTOR_FILLS, TEMPLATES
from pipelines.wakeup import next_wakeup
from tests.unit.playbook_sim import POLICY, T0, TZ

DAY = timedelta(days=1)
CLIENT = ClientState(id="7", name="Olha", reachable=True)
TARGET = Target("manicure", "Manicure", "b1", date(2026, 1, 1), date(2026, 1, 22), 39, ("sms",))


def snapshot(**kw) -> Snapshot:
    return Snapshot(client=kw.pop("client", CLIENT), **kw)


def visit(vid: str, status: BookingStatus, start: datetime, *categories: str) -> VisitState:
    return VisitState(vid, status, start, None, start, categories=categories or ("manicure",))


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_a_contact_plans_the_message_a_note_and_its_record():
    actions = reconnect_contact(snapshot(), POLICY, T0, TARGET, "rc-1")
    [message] = of(actions, SendMessage)
    assert (message.template, message.channels, message.marketing, message.send_at) == (
        "reconnect_first", ("sms",), True, None)
    assert set(message.context) == set(TEMPLATES["reconnect_first"].placeholders) - set(EXECUTOR_FILLS)
    assert message.context["date"] == "2026-01-01" and message.context["service"] == "Manicure"
    [note] = of(actions, AddNote)
    assert "Reconnect (Manicure)" in note.text and "39 days late" in note.text and "2026-03-09" in note.text
    [record] = of(actions, RecordReconnectContact)
    assert (record.key, record.follow_up_at, record.message_keys) == (
        "reconnect:7:manicure@2026-01-01", T0 + 7 * DAY, (message.key,))  # the default: 7 days
    assert not of(actions, CreateLead) and not of(actions, CreateTask)  # not asked for


def test_the_same_lateness_is_never_contacted_twice():
    first = reconnect_contact(snapshot(), POLICY, T0, TARGET, "rc-1")
    applied = frozenset(a.key for a in first)
    assert reconnect_contact(snapshot(applied=applied), POLICY, T0 + DAY, TARGET, "rc-2") == []
    later = dataclasses.replace(TARGET, last_visit=date(2026, 2, 1))  # came back since, late again
    assert of(reconnect_contact(snapshot(applied=applied), POLICY, T0 + DAY, later, "rc-3"), RecordReconnectContact)


def test_lead_and_call_task_when_configured_and_no_second_open_lost_lead():
    policy = dataclasses.replace(POLICY, reconnect=ReconnectSettings(create_lost_lead=True, create_call_task=True))
    actions = reconnect_contact(snapshot(), policy, T0, TARGET, "rc-1")
    [lead], [task] = of(actions, CreateLead), of(actions, CreateTask)
    assert lead.pipeline.value == "lost" and lead.stage == "reminder"
    assert task.task_kind is TaskKind.RECONNECT_CALL and task.lead_key == lead.key and "Olha" in task.text


def test_both_channels_are_two_sends_and_opt_out_sends_nothing():
    both = dataclasses.replace(TARGET, channels=("sms", "email"))
    sends = of(reconnect_contact(snapshot(), POLICY, T0, both, "rc-1"), SendMessage)
    assert [m.channels for m in sends] == [("sms",), ("email",)]
    opted = reconnect_contact(snapshot(client=dataclasses.replace(CLIENT, opted_out=True)), POLICY, T0, TARGET, "rc")
    assert not of(opted, SendMessage) and "opted out" in of(opted, Skip)[0].reason
    [record] = of(opted, RecordReconnectContact)
    assert record.follow_up_at is None and record.message_keys == ()  # not counted as contacted


def test_quiet_hours_and_the_frequency_cap_hold_the_first_message():
    late = datetime(2026, 3, 2, 22, 30, tzinfo=TZ)
    quiet = dataclasses.replace(POLICY, quiet_hours=(datetime.min.time().replace(hour=21),
                                                     datetime.min.time().replace(hour=9)))
    [m] = of(reconnect_contact(snapshot(), quiet, late, TARGET, "rc"), SendMessage)
    assert m.send_at == datetime(2026, 3, 3, 9, 0, tzinfo=TZ)
    capped = dataclasses.replace(POLICY, frequency_cap=(2, 7))
    sent = (T0 - 2 * DAY, T0 - DAY)
    [m] = of(reconnect_contact(snapshot(marketing_sent_at=sent), capped, T0, TARGET, "rc"), SendMessage)
    assert m.send_at == T0 - 2 * DAY + 7 * DAY


def test_a_client_who_booked_since_the_scan_is_not_contacted():
    booked = snapshot(client_visits=(visit("b9", BookingStatus.SCHEDULED, T0 + 3 * DAY, "pedicure"),))
    actions = reconnect_contact(booked, POLICY, T0, TARGET, "rc")
    assert [type(a) for a in actions] == [Skip]


CONTACT = ReconnectContact("reconnect:7:manicure@2026-01-01", "manicure", "b1", ("sms",), T0, T0 + 7 * DAY)


def test_the_follow_up_goes_after_n_days_and_the_clock_wakes_for_it():
    s = snapshot(reconnect=(CONTACT,))
    assert next_wakeup(s, POLICY, T0) == T0 + 7 * DAY
    assert due(s, POLICY, T0 + 7 * DAY - timedelta(seconds=1)) == []
    actions = due(s, POLICY, T0 + 7 * DAY)
    [m] = of(actions, SendMessage)
    assert m.template == "reconnect_follow_up" and m.channels == ("sms",)
    assert set(m.context) == set(TEMPLATES["reconnect_follow_up"].placeholders) - set(EXECUTOR_FILLS)
    [done] = of(actions, RecordReconnectFollowUp)
    assert done.state == "sent" and done.message_keys == (m.key,)
    assert due(dataclasses.replace(s, applied=frozenset(a.key for a in actions)), POLICY, T0 + 8 * DAY) == []


def test_no_follow_up_after_a_rebooking_of_the_category_or_any_booking_to_come():
    for booking in (visit("r1", BookingStatus.SCHEDULED, T0 + 10 * DAY, "pedicure"),  # any booking to come
                    visit("r2", BookingStatus.COMPLETED, T0 + 2 * DAY, "manicure"),  # came back for it
                    visit("r3", BookingStatus.NO_SHOW, T0 + 2 * DAY, "manicure")):  # rebooked, did not come
        actions = due(snapshot(reconnect=(CONTACT,), client_visits=(booking,)), POLICY, T0 + 7 * DAY)
        assert [(type(a), a.state) for a in actions] == [(RecordReconnectFollowUp, "skipped")], booking


def test_a_cancelled_or_other_category_visit_is_no_rebooking():
    for booking in (visit("c1", BookingStatus.CANCELLED, T0 + 2 * DAY, "manicure"),
                    visit("c2", BookingStatus.COMPLETED, T0 + 2 * DAY, "pedicure")):
        actions = due(snapshot(reconnect=(CONTACT,), client_visits=(booking,)), POLICY, T0 + 7 * DAY)
        assert of(actions, SendMessage), booking


def test_the_campaigns_lost_lead_is_won_when_the_client_books_again():
    from pipelines.actions import MoveLead
    from pipelines.events import Booking, ClientInfo, ServiceLine, VisitEvent
    from pipelines.planner import plan
    from pipelines.snapshot import LeadState

    lead = LeadState("lead:reconnect:7:manicure@2026-01-01", Pipeline.LOST, "reminder")
    other = LeadState("lead:lost:7:v1", Pipeline.LOST, "reminder", manual=True)
    booking = Booking("b5", BookingStatus.SCHEDULED, T0 + 3 * DAY, (ServiceLine("m1", "Gel", "Манікюр"),))
    event = VisitEvent("salon", "yclients", "b5:1", T0, booking, ClientInfo("c7", "Olha", "+380671234567"))
    actions = plan(event, snapshot(leads=(lead, other)), POLICY, T0)
    moves = [a for a in of(actions, MoveLead) if a.lead_key.startswith("lead:reconnect:")]
    assert [(m.lead_key, m.stage) for m in moves] == [(lead.key, "won")]


def test_a_booking_drops_reconnect_messages_still_held_back():
    from pipelines.actions import CancelMessage
    from pipelines.events import Booking, ClientInfo, ServiceLine, VisitEvent
    from pipelines.planner import plan

    booking = Booking("b6", BookingStatus.SCHEDULED, T0 + 3 * DAY, (ServiceLine("p1", "Pedicure", "Педикюр"),))
    event = VisitEvent("salon", "yclients", "b6:1", T0, booking, ClientInfo("c7", "Olha", "+380671234567"))
    cancels = of(plan(event, snapshot(reconnect=(CONTACT,)), POLICY, T0), CancelMessage)
    assert [(c.template, c.booking_id) for c in cancels] == [("reconnect_first", None), ("reconnect_follow_up", None)]
    assert not of(plan(event, snapshot(), POLICY, T0), CancelMessage)  # never contacted: nothing to drop
