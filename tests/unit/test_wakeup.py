"""The due index is exact: between a client's evaluation and its next wake-up, ``due`` has nothing to
say, and a clock that looks at a client only at its wake-ups does what a clock ticking all day does."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.planner import due
from pipelines.wakeup import next_wakeup
from tests.unit.playbook_sim import POLICY, T0, Salon
from tests.unit.test_plan_properties import history, op, visited

DAY = timedelta(days=1)
HORIZON = 400 * DAY


@settings(max_examples=150, deadline=None)
@given(st.lists(op, min_size=0, max_size=8), st.integers(min_value=0, max_value=300), st.data())
def test_nothing_is_due_between_an_evaluation_and_the_next_wakeup(ops, start_days, data):
    salon = visited()
    for event in history(ops):
        salon.send(event)
    now = T0 + start_days * DAY
    salon.tick(now)
    assert due(salon.snapshot, POLICY, now) == []  # the evaluation recorded everything it planned
    wake = next_wakeup(salon.snapshot, POLICY, now)
    end = wake if wake is not None else now + HORIZON
    if end - now <= timedelta(seconds=2):
        return
    seconds = data.draw(st.integers(min_value=1, max_value=int((end - now).total_seconds()) - 1))
    assert due(salon.snapshot, POLICY, now + timedelta(seconds=seconds)) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(op, min_size=0, max_size=8))
def test_a_clock_driven_by_wakeups_plans_what_an_hourly_clock_plans(ops):
    events = history(ops)
    start = (events[-1].occurred_at if events else T0) + timedelta(hours=1)
    end = start + 200 * DAY

    hourly = visited()
    for event in events:
        hourly.send(event)
    t = start
    while t <= end:
        hourly.tick(t)
        t += timedelta(hours=1)

    indexed = visited()
    for event in events:
        indexed.send(event)
    t = start
    while True:
        acted = indexed.tick(t)
        if acted:
            continue  # look again at once, as the job layer does
        wake = next_wakeup(indexed.snapshot, POLICY, t)
        if wake is None or wake > end:
            break
        t = wake

    def planned(salon: Salon) -> set[str]:
        return {a.key for a in salon.log}

    assert planned(indexed) == planned(hourly)
