"""The playbook ends the same whatever order a client's events are processed in (docs/playbook.md, "The order
of a client's events"): a visit's completion before its creation, a booking before the completion of the
visit before it, an older visit after a newer one of its category."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipelines.actions import UpdateFields
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
        "leads": sorted((x.key, x.pipeline, x.stage, x.status) for x in salon.snapshot.leads),
        "messages": sorted((m.template, m.booking_id or "", str(m.send_at)) for m in salon.messages) if now else [],
        "fields": fields,
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
