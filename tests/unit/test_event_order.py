"""The playbook ends the same whatever order a client's events are processed in (docs/playbook.md, "The order
of a client's events"): a visit's completion before its creation, a booking before the completion of the
visit before it, an older visit after a newer one of its category, bookings processed in another order than
they were made, a cancellation before the creation, a booking after the next visit closed its cycle."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from pipelines.actions import AddNote, CompleteTask, CreateLead, CreateTask, MoveLead, RestoreTask, UpdateFields
from pipelines.events import BookingStatus as S
from pipelines.events import VisitEvent
from tests.unit.playbook_sim import HAIRCUT, MANICURE, T0, Salon
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
V1, V2 = T0, T0 + 24 * DAY  # two manicure visits, the second 24 days after the first


def outcome(events: list[VisitEvent], now: datetime | None) -> dict:
    """What a run leaves: tasks, open cycles, leads, messages and the contact's fields.

    ``now`` None: each event is processed an hour after the newest one seen so far occurred (late
    deliveries); else every event at that fixed moment (a year of events replayed at once). Messages are
    compared in the second case only: whether a confirmation still goes out depends on when the booking is
    processed (not before its start), not on the order."""
    salon, seen = Salon(), T0 - 30 * DAY
    for event in events:
        seen = max(seen, event.occurred_at)
        salon.send(event, now=now or seen + HOUR)
    fields: dict[str, str] = {}
    for action in salon.log:
        if isinstance(action, UpdateFields) and action.lead_key is None:
            fields.update(action.fields)
    return {
        "tasks": {key: (t.text, t.deadline, t.open, t.result) for key, t in salon.tasks.items()},
        "cycles": sorted((c.category, c.anchor_visit_id, c.task_state, c.cancelled_by, c.task_exists, c.due_at)
                         for c in salon.snapshot.cycles),
        "leads": sorted((x.pipeline, x.stage, x.status) for x in salon.snapshot.leads),  # as the store compares them
        "messages": sorted((m.template, m.booking_id or "", str(m.send_at)) for m in salon.messages) if now else [],
        "fields": fields,
        **amocrm(salon),
    }


def amocrm(salon: Salon) -> dict:
    """The amoCRM account as the chaos suite compares it: leads by pipeline, stage, budget and fields (not by
    the key of the event that made them); tasks by text, deadline, state and result, a restored task being a
    new one (the closed one keeps its result); notes."""
    leads: dict[str, list] = {}
    tasks: list[list] = []
    current: dict[str, int] = {}
    for a in salon.log:
        if isinstance(a, CreateLead):
            leads[a.key] = [a.pipeline, a.stage, a.price, dict(a.fields)]
        elif isinstance(a, MoveLead):
            leads[a.lead_key][1] = a.stage
            leads[a.lead_key][2] = a.price or leads[a.lead_key][2]
        elif isinstance(a, UpdateFields) and a.lead_key in leads:
            leads[a.lead_key][3].update(a.fields)
        elif isinstance(a, CreateTask):
            current[a.key] = len(tasks)
            tasks.append([a.text, a.deadline, True, None])
        elif isinstance(a, CompleteTask):
            tasks[current[a.task_key]][2:] = [False, a.result]
        elif isinstance(a, RestoreTask):
            tasks.append([tasks[current[a.task_key]][0], a.deadline, True, None])
            current[a.task_key] = len(tasks) - 1
    return {
        "amo_leads": sorted((p, stage, price or 0, sorted(f.items())) for p, stage, price, f in leads.values()),
        "amo_tasks": sorted(tuple(t) for t in tasks),
        "notes": sorted(a.text for a in salon.log if isinstance(a, AddNote)),
    }


def created(booking: str, start: datetime, service=MANICURE) -> VisitEvent:
    return ev(booking, S.SCHEDULED, start, service, occurred=start - 5 * DAY)


def completed(booking: str, start: datetime, service=MANICURE) -> VisitEvent:
    return ev(booking, S.COMPLETED, start, service, occurred=start + 2 * HOUR)


def two_manicures_in_order() -> list[VisitEvent]:
    """Two manicures, each booked and then completed, processed in the order they happened."""
    return [created("v1", V1), completed("v1", V1), created("v2", V2), completed("v2", V2)]


NOW = pytest.mark.parametrize("now", [None, T0 - 20 * DAY], ids=["late-delivery", "replayed-at-once"])


@NOW
def test_a_completion_processed_before_its_creation(now):
    swapped = [created("v1", V1), completed("v1", V1), completed("v2", V2), created("v2", V2)]
    assert outcome(swapped, now) == outcome(two_manicures_in_order(), now)


@NOW
def test_a_first_visit_completed_before_it_was_booked(now):
    in_order = [created("v1", V1), completed("v1", V1)]
    swapped = [completed("v1", V1), created("v1", V1)]
    assert outcome(swapped, now) == outcome(in_order, now)


@NOW
def test_the_next_booking_processed_before_the_completion_of_the_visit_before_it(now):
    # v2 booked the day after v1 (its creation follows v1's completion), processed the other way round
    booked = ev("v2", S.SCHEDULED, V2, MANICURE, occurred=V1 + DAY)
    in_order = [created("v1", V1), completed("v1", V1), booked, completed("v2", V2)]
    swapped = [created("v1", V1), booked, completed("v1", V1), completed("v2", V2)]
    assert outcome(swapped, now) == outcome(in_order, now)


@NOW
def test_an_older_visit_processed_after_a_newer_one_of_its_category(now):
    late = [created("v1", V1), created("v2", V2), completed("v2", V2), completed("v1", V1)]
    assert outcome(late, now) == outcome(two_manicures_in_order(), now)


@NOW
def test_another_category_in_between_changes_nothing(now):
    cut = ev("h1", S.COMPLETED, V1 + 3 * DAY, HAIRCUT, occurred=V1 + 3 * DAY + 2 * HOUR)
    in_order = [created("v1", V1), completed("v1", V1), cut, created("v2", V2), completed("v2", V2)]
    late = [created("v1", V1), cut, created("v2", V2), completed("v2", V2), completed("v1", V1)]
    assert outcome(late, now)["tasks"] == outcome(in_order, now)["tasks"]
    assert outcome(late, now)["cycles"] == outcome(in_order, now)["cycles"]


# --- bookings processed in another order than they were made -------------------------------------------------

V3 = V2 + 30 * DAY


def booking(booking_id: str, start: datetime, made: datetime, service=MANICURE, price: int = 650) -> VisitEvent:
    event = ev(booking_id, S.SCHEDULED, start, service, occurred=made, price=Decimal(price))
    return replace(event, booking=replace(event.booking, created_at=made))


def cancelled(event: VisitEvent, at: datetime) -> VisitEvent:
    return replace(event, occurred_at=at, dedupe_key=f"{event.dedupe_key}:x",
                   booking=replace(event.booking, status=S.CANCELLED))


def over(event: VisitEvent, status: S = S.COMPLETED) -> VisitEvent:
    at = event.booking.start_at + 2 * HOUR
    return replace(event, occurred_at=at, dedupe_key=f"{event.dedupe_key}:{status}",
                   booking=replace(event.booking, status=status))


def same_in_every_order(events: list[VisitEvent], now: datetime | None, fixed: int = 0,
                        but: tuple[str, ...] = ()) -> dict:
    """The outcome of ``events`` in the order given, asserted equal (``but`` those parts) for every order of
    ``events[fixed:]``."""
    expected = outcome(events, now)
    for order in itertools.permutations(events[fixed:]):
        got = outcome([*events[:fixed], *order], now)
        assert [k for k in expected if k not in but and got[k] != expected[k]] == [], order
    return expected


@NOW
def test_a_two_category_clients_repeat_leads_are_won_by_each_visits_next_booking_in_any_order(now):
    first = booking("m1", V1, V1 - 5 * DAY)
    cut = booking("h1", V1 + 2 * DAY, V1 - 4 * DAY, HAIRCUT, 700)
    m2 = booking("m2", V2, V1 + 10 * DAY)
    h2 = booking("h2", V2 - 3 * DAY, V1 + 12 * DAY, HAIRCUT, 900)
    result = same_in_every_order([first, over(first), cut, over(cut), h2, m2], now, fixed=4)
    repeat = [(stage, price) for p, stage, price, _ in result["amo_leads"] if p == "repeat"]
    assert sorted(repeat) == [("won", 650), ("won", 900)]  # each visit's lead, won by its own category's booking


@NOW
def test_the_sooner_of_two_bookings_after_a_visit_cancels_its_task_in_either_order(now):
    first = booking("v1", V1, V1 - 5 * DAY)
    soon, late = booking("v2", V2, V1 + 3 * DAY), booking("v3", V3, V1 + 2 * DAY)
    result = same_in_every_order([first, over(first), late, soon], now, fixed=2)
    [task] = result["amo_tasks"]
    assert "v2" in task[3] and task[2] is False


@NOW
def test_a_cancellation_processed_before_a_rebooking_made_before_it_keeps_the_task_closed(now):
    """The rebooking was made before the cancellation: the task is never restored, in either order."""
    first = booking("v1", V1, V1 - 5 * DAY)
    dropped = booking("v2", V2, V1 + 3 * DAY)
    rebooked = booking("v3", V2 + 3 * DAY, V1 + 5 * DAY)
    in_order = [first, over(first), dropped, rebooked, cancelled(dropped, V1 + 6 * DAY)]
    result = outcome(in_order, now)
    assert result["notes"] == [] and [t[3] for t in result["amo_tasks"]] == [result["amo_tasks"][0][3]]
    assert "v3" in result["amo_tasks"][0][3]


@NOW
def test_a_rebooking_made_after_the_cancellation_but_processed_first_restores_and_closes_the_task_again(now):
    first = booking("v1", V1, V1 - 5 * DAY)
    dropped = booking("v2", V2, V1 + 3 * DAY)
    rebooked = booking("v3", V2 + 3 * DAY, V1 + 8 * DAY)
    in_order = [first, over(first), dropped, cancelled(dropped, V1 + 6 * DAY), rebooked]
    # (a cancellation processed before its booking's creation sends no confirmation: messages aside)
    result = same_in_every_order(in_order, now, fixed=2, but=("messages",))
    assert len(result["notes"]) == 1 and len(result["amo_tasks"]) == 2  # the restored task is a new one


@NOW
def test_a_cancelled_booking_first_seen_cancelled_closes_and_restores_the_task_as_in_order(now):
    first = booking("v1", V1, V1 - 5 * DAY)
    dropped = booking("v2", V2, V1 + 3 * DAY)
    in_order = [first, over(first), dropped, cancelled(dropped, V1 + 6 * DAY)]
    swapped = [first, over(first), cancelled(dropped, V1 + 6 * DAY), dropped]
    expected, got = outcome(in_order, now), outcome(swapped, now)
    assert {k: v for k, v in got.items() if k != "messages"} == {k: v for k, v in expected.items() if k != "messages"}
    # the one difference: a booking known to be cancelled is not confirmed
    assert [m for m in expected["messages"] if m not in got["messages"]] == (
        [("confirmation", "v2", "None")] if now else [])


@NOW
def test_a_booking_between_two_visits_cancelled_after_the_second_visit_was_processed(now):
    first = booking("v1", V1, V1 - 5 * DAY)
    between = booking("v2", V2, V1 + 3 * DAY)
    second = booking("v3", V2 + 4 * DAY, V1 + 4 * DAY)
    in_order = [first, over(first), between, second, cancelled(between, V2 - DAY), over(second)]
    late = [first, over(first), between, second, over(second), cancelled(between, V2 - DAY)]
    assert outcome(late, now) == outcome(in_order, now)


@NOW
def test_a_new_clients_sales_lead_is_about_the_booking_made_first_in_any_order(now):
    one = booking("v1", V1 + 10 * DAY, V1 - 5 * DAY, price=650)
    two = booking("v2", V1, V1 - 2 * DAY, HAIRCUT, 700)  # starts first, made second
    # (the welcome goes with the booking processed first: messages aside)
    result = same_in_every_order([one, two, over(two), over(one)], now, but=("messages",))
    [sales] = [lead for lead in result["amo_leads"] if lead[0] == "sales"]
    assert sales[1:3] == ("won", 700)  # won by the first visit, with its value
    assert dict(sales[3])["last_category"] == "Manicure"  # about the booking made first


@NOW
def test_a_no_show_after_a_visit_processed_before_the_visits_completion_still_closes_its_task(now):
    regular = booking("v0", V1 - 21 * DAY, V1 - 30 * DAY)  # not a new client: no Sales lead to chase
    first = booking("v1", V1, V1 - 5 * DAY)
    missed = booking("v2", V2, V1 + 3 * DAY)
    in_order = [regular, over(regular), first, missed, over(first), over(missed, S.NO_SHOW)]
    early = [regular, over(regular), first, missed, over(missed, S.NO_SHOW), over(first)]
    assert outcome(early, now) == outcome(in_order, now)
    assert "v2" in outcome(early, now)["tasks"]["task:periodic:c1:manicure:v1"][3]


def test_a_cancellation_processed_after_the_next_visit_restores_the_closed_task_when_nothing_else_was_booked():
    """v2 cancelled before v3 was made: in order the task was restored, then closed again by v3; the same when
    v3 was processed, and completed, before v2's events. (Replayed at once: a task restored late is due when
    it is restored, a matter of timing.)"""
    now = T0 - 20 * DAY
    first = booking("v1", V1, V1 - 5 * DAY)
    dropped = booking("v2", V2, V1 + 3 * DAY)
    rebooked = booking("v3", V2 + 3 * DAY, V2 - DAY)
    in_order = [first, over(first), dropped, cancelled(dropped, V2 - 2 * DAY), rebooked, over(rebooked)]
    late = [first, over(first), rebooked, over(rebooked), cancelled(dropped, V2 - 2 * DAY), dropped]
    expected, got = outcome(in_order, now), outcome(late, now)
    assert {k: v for k, v in got.items() if k != "messages"} == {k: v for k, v in expected.items() if k != "messages"}
    assert len(expected["notes"]) == 1 and len(expected["amo_tasks"]) == 3  # v1's twice (restored), v3's


def test_a_visit_processed_after_the_cancellation_of_the_booking_that_followed_it_keeps_its_task_history():
    """v2 closed v1's task, was cancelled before v3 was made (the task restored, a note) and v3 closed it again:
    the same two amoCRM tasks and the note when v1's completion is processed after v2's cancellation, after v3
    was completed too, in any order (the task's history worked out from when each booking was made and
    cancelled). (Replayed at once: a task restored late is due when it is restored, a matter of timing.)"""
    now = T0 - 20 * DAY
    first = booking("v1", V1, V1 - 5 * DAY)
    dropped = booking("v2", V2, V1 + 3 * DAY)
    rebooked = booking("v3", V2 + 3 * DAY, V2 - DAY)
    in_order = [first, over(first), dropped, cancelled(dropped, V2 - 2 * DAY), rebooked, over(rebooked)]
    late = [first, dropped, cancelled(dropped, V2 - 2 * DAY), rebooked, over(rebooked), over(first)]
    expected, got = outcome(in_order, now), outcome(late, now)
    assert {k: v for k, v in got.items() if k != "messages"} == {k: v for k, v in expected.items() if k != "messages"}
    assert len(expected["notes"]) == 1 and [t[3] is not None and t[3][-4:] for t in expected["amo_tasks"]] == [
        "v2).", "v3).", False]  # v1's task closed for v2, restored and closed for v3; v3's own task open
    # (a cancellation processed before its booking's creation sends no confirmation: messages aside)
    same_in_every_order(in_order, now, fixed=1, but=("messages",))


@NOW
def test_two_visits_at_the_same_time_leave_the_same_repeat_leads_in_any_order(now):
    """A manicure and a haircut at the same hour: each visit's Repeat lead says what the visits up to it say,
    the one sorting later (by start, then id) not counted for the other, whichever completion came first."""
    nails = booking("m1", V1, V1 - 9 * DAY)
    cut = booking("h1", V1, V1 - 5 * DAY, HAIRCUT, 700)
    result = same_in_every_order([nails, cut, over(nails), over(cut)], now, fixed=2)
    repeat = sorted(dict(f)["last_category"] for p, _, _, f in result["amo_leads"] if p == "repeat")
    assert repeat == ["Haircut", "Manicure"]


@NOW
def test_a_first_booking_cancelled_before_the_rebooking_was_made_gets_its_call_task_in_any_order(now):
    """A new client's first booking cancelled with nothing else to come: in order the admin got a call task
    then; the same when the cancellation is processed after the rebooking, made later, was completed and won
    the Sales lead."""
    dropped = booking("v1", V1, V1 - 5 * DAY)
    rebooked = booking("v2", V1 + 3 * DAY, V1 + DAY)
    in_order = [dropped, cancelled(dropped, V1 - DAY), rebooked, over(rebooked)]
    late = [dropped, rebooked, over(rebooked), cancelled(dropped, V1 - DAY)]
    expected, got = outcome(in_order, now), outcome(late, now)
    # (its deadline is when it is created: a matter of timing)
    calls = [(t[0], t[2], t[3]) for t in expected["amo_tasks"] if "cancelled" in t[0]]
    assert len(calls) == 1 and calls[0][1] is True  # the call task, open
    assert [(t[0], t[2], t[3]) for t in got["amo_tasks"] if "cancelled" in t[0]] == calls


@NOW
def test_two_bookings_after_a_visit_both_cancelled_in_the_other_order_restore_the_task_for_the_later_one(now):
    """v2 and v3 booked after v1, v2 cancelled first: in order the task went to v3, and v3's cancellation
    restored it (the note names v3). The same when v3's cancellation is processed first; in no order does
    anything the in-order run has go missing (a cancellation processed before the creation of a booking made
    before it may only add a restore, order-dependent by nature)."""
    first = booking("v1", V1, V1 - 5 * DAY)
    b2, b3 = booking("v2", V2, V1 + 3 * DAY), booking("v3", V3, V1 + 4 * DAY)
    in_order = [first, over(first), b2, b3, cancelled(b2, V1 + 6 * DAY), cancelled(b3, V1 + 8 * DAY)]
    swapped = [first, over(first), b2, b3, cancelled(b3, V1 + 8 * DAY), cancelled(b2, V1 + 6 * DAY)]
    expected, got = outcome(in_order, now), outcome(swapped, now)
    assert got["notes"] == expected["notes"] == ["Task restored: booking v3 was cancelled, the client has no "
                                                 "Manicure booking."]
    assert got["amo_tasks"] == expected["amo_tasks"]
    for order in itertools.permutations(in_order[1:]):
        got = outcome([first, *order], now)
        for part in ("amo_tasks", "notes"):
            assert not Counter(map(repr, expected[part])) - Counter(map(repr, got[part])), (part, order)
