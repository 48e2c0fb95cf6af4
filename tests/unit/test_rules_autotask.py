"""The periodicity autotask, exactly as seed 000 describes it (plus the points the seed leaves open)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipelines.actions import AddNote, CloseCycle, CompleteTask, CreateTask, RestoreTask, Skip
from pipelines.catalog import CatalogOverrides, ServiceRule
from pipelines.events import BookingStatus as S
from pipelines.events import ServiceLine
from pipelines.snapshot import TaskState
from tests.unit.playbook_sim import HAIRCUT, MANICURE, MANICURE_CLASSIC, MYSTERY, PEDICURE, POLICY, T0, TZ, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
TASK = "task:periodic:c1:manicure:v1"
DUE = datetime(2026, 3, 23, 10, tzinfo=TZ)  # 2 March + 21 days, at the working hour


def visited(salon: Salon | None = None, *services: ServiceLine, start: datetime = T0) -> Salon:
    """A client who came on ``start`` (booked the day before) for ``services``."""
    salon = salon or Salon()
    salon.send(ev("v1", S.SCHEDULED, start, *services, occurred=start - DAY))
    salon.send(ev("v1", S.COMPLETED, start, *services, occurred=start + timedelta(hours=2)))
    return salon


def book(salon: Salon, booking_id: str, when: datetime, *services: ServiceLine, status: S = S.SCHEDULED):
    return salon.send(ev(booking_id, status, when + 7 * DAY, *services, occurred=when))


# --- seed 000's four behaviours --------------------------------------------------------------------


def test_a_booking_in_the_same_category_cancels_the_open_task():
    salon = visited()
    actions = book(salon, "v2", T0 + 5 * DAY, MANICURE_CLASSIC)
    [done] = of(actions, CompleteTask)
    assert done.task_key == TASK
    assert "v2" in done.result and "Classic manicure" in done.result
    assert not salon.tasks[TASK].open
    cycle = salon.snapshot.cycle("manicure")
    assert (cycle.task_state, cycle.cancelled_by) == (TaskState.CANCELLED_BY_BOOKING, "v2")


def test_a_booking_in_another_category_leaves_the_task_active():
    salon = visited()
    actions = book(salon, "v2", T0 + 5 * DAY, HAIRCUT)
    assert of(actions, CompleteTask) == []
    assert salon.tasks[TASK].open
    assert salon.snapshot.cycle("manicure").task_state is TaskState.OPEN


def test_cancelling_the_cancelling_booking_restores_the_task():
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    actions = salon.send(ev("v2", S.CANCELLED, T0 + 12 * DAY, MANICURE, occurred=T0 + 6 * DAY))
    [restored] = of(actions, RestoreTask)
    assert (restored.task_key, restored.deadline) == (TASK, DUE)
    [note] = of(actions, AddNote)  # exactly one note says why: the restore itself carries none
    assert "v2" in note.text
    assert salon.tasks[TASK].open and salon.tasks[TASK].deadline == DUE
    assert salon.snapshot.cycle("manicure").task_state is TaskState.RESTORED


def test_the_deadline_is_the_visit_date_plus_the_periodicity_at_the_working_hour():
    salon = visited()
    [task] = [a for a in salon.log if isinstance(a, CreateTask)]
    assert task.deadline == DUE
    assert "Olha" in task.text and "Gel manicure" in task.text and "Anna" in task.text and "02.03.2026" not in task.text
    assert "2026-03-02" in task.text  # English texts use ISO dates


# --- the points seed 000 leaves open ---------------------------------------------------------------


def test_the_task_is_cancelled_even_after_its_deadline_passed():
    salon = visited()
    actions = book(salon, "v2", DUE + 3 * DAY, MANICURE)
    assert [a.task_key for a in of(actions, CompleteTask)] == [TASK]


def test_restoring_after_the_deadline_makes_the_task_due_now():
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    late = DUE + 2 * DAY
    actions = salon.send(ev("v2", S.CANCELLED, late + DAY, MANICURE, occurred=late))
    assert of(actions, RestoreTask)[0].deadline == late


def test_a_task_a_person_completed_is_never_touched():
    salon = visited()
    salon.person_completes_task("manicure")
    assert of(book(salon, "v2", T0 + 5 * DAY, MANICURE), CompleteTask) == []
    actions = salon.send(ev("v2", S.CANCELLED, T0 + 12 * DAY, MANICURE, occurred=T0 + 6 * DAY))
    assert of(actions, RestoreTask) == [] and of(actions, CreateTask) == []


def test_a_no_show_of_the_cancelling_booking_does_not_restore():
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    actions = salon.send(ev("v2", S.NO_SHOW, T0 + 12 * DAY, MANICURE, occurred=T0 + 12 * DAY))
    assert of(actions, RestoreTask) == []
    assert not salon.tasks[TASK].open


def test_with_another_same_category_booking_still_to_come_the_task_stays_cancelled():
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    book(salon, "v3", T0 + 6 * DAY, MANICURE)
    actions = salon.send(ev("v2", S.CANCELLED, T0 + 12 * DAY, MANICURE, occurred=T0 + 7 * DAY))
    assert of(actions, RestoreTask) == []
    assert salon.snapshot.cycle("manicure").cancelled_by == "v3"
    actions = salon.send(ev("v3", S.CANCELLED, T0 + 13 * DAY, MANICURE, occurred=T0 + 8 * DAY))
    assert [a.task_key for a in of(actions, RestoreTask)] == [TASK]


def test_the_cancelling_booking_completed_replaces_the_cycle():
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    actions = salon.send(ev("v2", S.COMPLETED, T0 + 12 * DAY, MANICURE, occurred=T0 + 12 * DAY))
    assert of(actions, CompleteTask) == []  # already closed when v2 was booked
    assert [c.anchor_visit_id for c in of(actions, CloseCycle)] == ["v1"]
    assert salon.snapshot.cycle("manicure").anchor_visit_id == "v2"
    # 14 March + 21 days
    assert salon.tasks["task:periodic:c1:manicure:v2"].deadline == datetime(2026, 4, 4, 10, tzinfo=TZ)


def test_a_walk_in_visit_closes_the_old_task_and_opens_a_new_one():
    salon = visited()
    actions = salon.send(ev("v2", S.COMPLETED, T0 + 20 * DAY, MANICURE, occurred=T0 + 20 * DAY))
    assert [a.task_key for a in of(actions, CompleteTask)] == [TASK]
    assert "task:periodic:c1:manicure:v2" in salon.tasks


def test_one_task_per_category_and_the_shortest_periodicity_within_one():
    policy = POLICY.__class__(
        **{**POLICY.__dict__, "catalog": CatalogOverrides.build({}, {"m2": ServiceRule(periodicity_days=14)})}
    )
    salon = visited(Salon(policy=policy), MANICURE, MANICURE_CLASSIC, PEDICURE)
    tasks = {a.key: a.deadline for a in salon.log if isinstance(a, CreateTask)}
    assert tasks == {
        TASK: T0.replace(hour=10) + 14 * DAY,
        "task:periodic:c1:pedicure:v1": T0.replace(hour=10) + 28 * DAY,
    }
    assert "Classic manicure" in next(a.text for a in salon.log if isinstance(a, CreateTask) and a.key == TASK)


def test_a_package_counts_for_each_of_its_categories():
    combo = ServiceLine("combo", "Manicure + pedicure", "Манікюр")
    policy = POLICY.__class__(
        **{
            **POLICY.__dict__,
            "catalog": CatalogOverrides.build(
                {}, {"Manicure + pedicure": ServiceRule(counts_for=("manicure", "педикюр"))}
            ),
        }
    )
    salon = visited(Salon(policy=policy), combo)
    assert {c.category for c in salon.snapshot.cycles} == {"manicure", "pedicure"}
    actions = book(salon, "v2", T0 + 3 * DAY, PEDICURE)
    assert [a.task_key for a in of(actions, CompleteTask)] == ["task:periodic:c1:pedicure:v1"]


def test_a_service_without_a_category_gets_no_task_and_a_reason():
    salon = visited(None, MYSTERY)
    assert [a for a in salon.log if isinstance(a, CreateTask)] == []
    [skip] = [a for a in salon.log if isinstance(a, Skip) and a.rule == "autotask"]
    assert "Something new" in skip.reason and "no category" in skip.reason


def test_a_category_without_periodicity_gets_no_task_and_a_reason():
    salon = visited(None, ServiceLine("l1", "Laser legs", "Лазерна епіляція"))
    assert [a for a in salon.log if isinstance(a, CreateTask)] == []
    assert any(isinstance(a, Skip) and "laser" in a.reason for a in salon.log)


def test_a_visit_completed_with_the_next_one_already_booked_gets_its_task_cancelled_at_once():
    salon = Salon()
    salon.send(ev("v1", S.SCHEDULED, T0, MANICURE, occurred=T0 - DAY))
    salon.send(ev("v2", S.SCHEDULED, T0 + 21 * DAY, MANICURE, occurred=T0))
    salon.send(ev("v1", S.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=2)))
    cycle = salon.snapshot.cycle("manicure")
    assert (cycle.task_state, cycle.cancelled_by, cycle.task_exists) == (TaskState.CANCELLED_BY_BOOKING, "v2", True)
    assert not salon.tasks[TASK].open and "v2" in salon.tasks[TASK].result
    actions = salon.send(ev("v2", S.CANCELLED, T0 + 21 * DAY, MANICURE, occurred=T0 + 3 * DAY))
    [restored] = of(actions, RestoreTask)
    assert (restored.task_key, restored.deadline) == (TASK, DUE)
    assert salon.tasks[TASK].open


def test_the_deadline_keeps_the_working_hour_across_a_dst_change():
    salon = visited(None, MANICURE, start=datetime(2026, 3, 20, 15, tzinfo=TZ))
    [task] = [a for a in salon.log if isinstance(a, CreateTask)]
    assert task.deadline.astimezone(TZ).hour == 10
    assert task.deadline.utcoffset() == timedelta(hours=3)  # summer time from 29 March


@pytest.mark.parametrize("status", [S.SCHEDULED, S.CONFIRMED])
def test_a_restored_booking_cancels_the_restored_task_again(status):
    salon = visited()
    book(salon, "v2", T0 + 5 * DAY, MANICURE)
    salon.send(ev("v2", S.CANCELLED, T0 + 12 * DAY, MANICURE, occurred=T0 + 6 * DAY))
    actions = salon.send(ev("v2", status, T0 + 12 * DAY, MANICURE, occurred=T0 + 7 * DAY))
    assert [a.task_key for a in of(actions, CompleteTask)] == [TASK]
    assert not salon.tasks[TASK].open
