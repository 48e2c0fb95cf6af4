"""Properties of plan/due over generated event histories: idempotent replays, seed 000's category
rule under any delivery order, determinism for a fixed ``now``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.actions import CompleteTask
from pipelines.events import BookingStatus as S
from pipelines.events import VisitEvent
from pipelines.planner import due, plan
from pipelines.timing import after_quiet_hours, before_quiet_hours
from tests.unit.playbook_sim import HAIRCUT, MANICURE, MYSTERY, PEDICURE, POLICY, T0, Salon
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
TASK = "task:periodic:c1:manicure:v1"
STATUSES = [S.SCHEDULED, S.CONFIRMED, S.COMPLETED, S.CANCELLED, S.NO_SHOW]
SERVICES = [MANICURE, HAIRCUT, PEDICURE, MYSTERY]

op = st.tuples(
    st.sampled_from(["b1", "b2", "b3"]),
    st.sampled_from(STATUSES),
    st.sampled_from(SERVICES),
    st.integers(min_value=-5, max_value=90),  # start, days from T0
    st.integers(min_value=1, max_value=72),  # hours after the previous event
)


def history(ops: list[tuple]) -> list[VisitEvent]:
    """Events with strictly increasing occurred_at; a booking keeps its first service line."""
    out, at, services = [], T0, {}
    for booking_id, status, service, start_days, gap_hours in ops:
        at += timedelta(hours=gap_hours)
        line = services.setdefault(booking_id, service)
        out.append(ev(booking_id, status, T0 + start_days * DAY, line, occurred=at))
    return out


def visited() -> Salon:
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, T0, MANICURE, occurred=T0 - DAY))
    salon.send(ev("v1", S.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=2)))
    return salon


@settings(max_examples=150, deadline=None)
@given(st.lists(op, min_size=1, max_size=12), st.data())
def test_replaying_any_event_adds_no_new_action(ops, data):
    salon = visited()
    events = history(ops)
    for event in events:
        salon.send(event)
        assert plan(event, salon.snapshot_for(event), POLICY, event.occurred_at) == []  # redelivered at once
        salon.tick(event.occurred_at)
    later = events[-1].occurred_at + timedelta(hours=1)
    for event in data.draw(st.permutations(events)):
        replay = plan(event, salon.snapshot_for(event), POLICY, later)
        assert {a.key for a in replay} <= salon.snapshot.applied and replay == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["h1", "h2", "p1"]), st.sampled_from(STATUSES)), min_size=1, max_size=10),
    st.data(),
)
def test_other_category_bookings_in_any_order_never_cancel_the_task(ops, data):
    salon = visited()
    lines = {"h1": HAIRCUT, "h2": HAIRCUT, "p1": PEDICURE}
    events = [
        ev(b, status, T0 + 10 * DAY, lines[b], occurred=T0 + (i + 1) * timedelta(hours=3))
        for i, (b, status) in enumerate(ops)
    ]
    for event in data.draw(st.permutations(events)):  # any delivery order; stale snapshots plan nothing
        actions = salon.send(event, now=T0 + 2 * DAY)
        assert not any(isinstance(a, CompleteTask) and a.task_key == TASK for a in actions)
    assert salon.tasks[TASK].open


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["m1", "m2", "h1"]), st.sampled_from([S.SCHEDULED, S.CANCELLED])),
        min_size=1,
        max_size=12,
    )
)
def test_the_task_is_open_exactly_while_no_same_category_booking_is_to_come(ops):
    salon = visited()
    lines = {"m1": MANICURE, "m2": MANICURE, "h1": HAIRCUT}
    for i, (b, status) in enumerate(ops):
        salon.send(ev(b, status, T0 + 40 * DAY, lines[b], occurred=T0 + (i + 1) * timedelta(hours=3)))
        booked = any(
            v.external_id != "v1" and v.status.is_upcoming and "manicure" in v.categories
            for v in salon.snapshot.client_visits
        )
        assert salon.tasks[TASK].open is not booked


@settings(max_examples=100, deadline=None)
@given(st.lists(op, min_size=1, max_size=10), st.integers(min_value=0, max_value=200))
def test_plan_and_due_are_deterministic_for_a_fixed_now(ops, tick_days):
    salon = visited()
    events = history(ops)
    for event in events[:-1]:
        salon.send(event)
    last, now = events[-1], events[-1].occurred_at
    snapshot = salon.snapshot_for(last)
    assert plan(last, snapshot, POLICY, now) == plan(last, dataclasses.replace(snapshot), POLICY, now)
    when = T0 + tick_days * DAY
    assert due(salon.snapshot, POLICY, when) == due(salon.snapshot, POLICY, when)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=15))
def test_clock_ticks_never_repeat_an_action(days):
    salon = visited()
    for day in sorted(days):
        salon.tick(T0 + day * DAY)
        assert due(salon.snapshot, POLICY, T0 + day * DAY) == []
    keys = [a.key for a in salon.log]
    assert len(keys) == len(set(keys))


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=T0.replace(tzinfo=None), max_value=(T0 + 400 * DAY).replace(tzinfo=None)),
    st.times(),
    st.times(),
)
def test_quiet_hours_shifts_land_outside_the_window_on_the_right_side(naive, start, end):
    start, end = time(start.hour, start.minute), time(end.hour, end.minute)
    if start == end:
        return
    policy = dataclasses.replace(POLICY, quiet_hours=(start, end))
    at = naive.replace(tzinfo=UTC)

    def quiet(moment) -> bool:
        local = moment.astimezone(policy.timezone).time()
        return start <= local < end if start < end else (local >= start or local < end)

    later, earlier = after_quiet_hours(at, policy), before_quiet_hours(at, policy)
    assert later >= at and earlier <= at
    assert not quiet(later) and not quiet(earlier)
