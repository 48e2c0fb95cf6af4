"""What a booking snapshot means against the stored one (source-independent)."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.events import Booking, BookingStatus, Staff, VisitEvent
from pipelines.planner import plan
from pipelines.policy import Policy
from pipelines.snapshot import Snapshot, VisitState
from pipelines.transitions import Transition, is_stale, transitions

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
S = BookingStatus


def booking(status: S, start: datetime = T0, staff: str = "1") -> Booking:
    return Booking(external_id="r1", status=status, start_at=start, staff=Staff(staff, "Анна"))


def stored(status: S, start: datetime = T0, staff: str = "1", version: datetime = T0) -> VisitState:
    return VisitState("r1", status, start, staff, version)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.SCHEDULED, (Transition.CREATED,)),
        (S.CONFIRMED, (Transition.CREATED, Transition.CONFIRMED)),
        (S.COMPLETED, (Transition.CREATED, Transition.COMPLETED)),  # walk-in entered after the fact
        (S.NO_SHOW, (Transition.CREATED, Transition.NO_SHOW)),
        (S.CANCELLED, (Transition.CREATED, Transition.CANCELLED)),
    ],
)
def test_first_snapshot_is_a_creation_plus_its_status(status, expected):
    assert transitions(None, booking(status)) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (S.SCHEDULED, S.CONFIRMED, (Transition.CONFIRMED,)),
        (S.CONFIRMED, S.COMPLETED, (Transition.COMPLETED,)),
        (S.SCHEDULED, S.NO_SHOW, (Transition.NO_SHOW,)),
        (S.CONFIRMED, S.CANCELLED, (Transition.CANCELLED,)),
        (S.CANCELLED, S.SCHEDULED, (Transition.RESTORED,)),
        (S.CANCELLED, S.COMPLETED, (Transition.RESTORED, Transition.COMPLETED)),
        (S.COMPLETED, S.SCHEDULED, (Transition.UPDATED,)),
        (S.SCHEDULED, S.SCHEDULED, ()),
    ],
)
def test_status_changes(before, after, expected):
    assert transitions(stored(before), booking(after)) == expected


def test_moved_time_or_master_is_a_reschedule():
    assert transitions(stored(S.SCHEDULED), booking(S.SCHEDULED, start=T0 + timedelta(hours=2))) == (
        Transition.RESCHEDULED,
    )
    assert transitions(stored(S.SCHEDULED), booking(S.SCHEDULED, staff="2")) == (Transition.RESCHEDULED,)


def event(status: S, occurred: datetime) -> VisitEvent:
    return VisitEvent(tenant="salon", source="yclients", dedupe_key="k", occurred_at=occurred, booking=booking(status))


def test_an_older_snapshot_is_stale_and_plans_nothing():
    snap = Snapshot(visit=stored(S.COMPLETED, version=T0))
    late_create = event(S.SCHEDULED, T0 - timedelta(minutes=5))
    assert is_stale(snap.visit, late_create)
    assert plan(late_create, snap, Policy("salon"), T0) == []


def test_the_same_snapshot_twice_plans_nothing_the_second_time():
    first = plan(event(S.SCHEDULED, T0), Snapshot(), Policy("salon"), T0)
    assert [a.transitions for a in first] == [(Transition.CREATED,)]
    again = plan(event(S.SCHEDULED, T0), Snapshot(visit=stored(S.SCHEDULED)), Policy("salon"), T0)
    assert again == []
