"""The periodicity autotask (seed 000, DESIGN §6 rules 3–5), per client and category.

- A COMPLETED visit opens one cycle per category in it, with a task due on the visit's local date +
  the periodicity, at the tenant's working hour. Several services of one category: the shortest
  periodicity wins (the earliest reason to call). Packages count for each of their categories.
  A service with no category, or a category with no periodicity, opens nothing and says so.
- A booking created or restored (scheduled/confirmed) with a service of the SAME category, starting after
  the visit the cycle counts from, while the task is still open (deadline passed or not) cancels it, with
  a result text naming the booking; the cycle remembers the booking. Other categories leave it alone. A
  task a person completed is never touched.
- If that booking is cancelled, the task is restored with its own deadline, or now if that passed.
  Only a cancellation restores: a no-show leaves the task closed (the lost-client rules take over).
  If another same-category booking was still to come at that moment (made by then, not yet cancelled, even
  if cancelled since), the cycle points at that one instead; a booking made later closes the restored task
  again, whichever of the events was processed first.
- A visit completed while the client's bookings after it are already known (booked ahead, or their events
  processed first) gets its task's history worked out from when each of those bookings was made
  (``booked_at``) and cancelled: created, closed by the soonest booking to come, restored (a note) when that
  one was cancelled with nothing else to come, closed again by the next one made. A visit older than the one
  the category's cycle counts from (processed late) is kept as history the same way, its cycle opened and
  closed. So the result does not depend on the order the events were processed in (docs/playbook.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pipelines.actions import (
    Action,
    AddNote,
    CloseCycle,
    CompleteTask,
    CreateTask,
    OpenCycle,
    RestoreTask,
    Skip,
    TaskKind,
    UpdateCycle,
)
from pipelines.catalog import categories_of, category_label, shortest_periods
from pipelines.events import BookingStatus, ServiceLine
from pipelines.fold import HISTORY
from pipelines.rules.context import Occasion
from pipelines.snapshot import Cycle, TaskState, VisitState
from pipelines.texts import local_date, text
from pipelines.timing import due_at


def on_event(o: Occasion) -> list[Action]:
    actions: list[Action] = []
    if o.is_new_booking:
        actions += _cancel(o)
    if o.cancelled:
        actions += _restore(o)
    if o.completed:
        actions += _open(o)
    return actions + _closed_cycles(o)


# --- a booking inside a cycle already closed by the next visit ---------------------------------------------


def _closed_cycles(o: Occasion) -> list[Action]:
    """A booking between a visit and the category's next visit, processed after that next visit closed the
    visit's cycle: the closed task's result names the soonest booking after the visit that was not cancelled,
    as it does when the events come in the order the bookings were made."""
    actions: list[Action] = []
    after = (*(v for v in o.snapshot.client_visits if v.external_id != o.booking_id), o.visit_state())
    for category in o.categories:
        anchor = _visit_before(o.snapshot.client_visits, category, o.booking.start_at, o.booking_id)
        closed = o.snapshot.closed_cycle(category, anchor.external_id) if anchor else None
        if anchor is None or closed is None or not closed.task_exists \
                or closed.task_state is TaskState.DONE_BY_PERSON:
            continue
        now = _first_after(after, category, anchor)
        if now is None or now.external_id == closed.cancelled_by:
            continue
        # (a booking first seen cancelled is two steps of one event: the status tells their keys apart)
        why = f"closed-{o.booking.status.value}"
        if o.cancelled and closed.cancelled_by == o.booking_id and not any(
                v.booked_by(o.event.occurred_at) for v in _not_cancelled_after(after, category, anchor)):
            # nothing else had been booked when it was cancelled: the task was restored then, and closed again
            # by the booking made later (as when the events come in the order the bookings were made)
            actions += _restore_closed(o, closed, now, why)
        else:
            actions += _cancel_one(o, replace(closed, task_state=TaskState.CANCELLED_BY_BOOKING), now, why=why)
    return actions


def _restore_closed(o: Occasion, closed: Cycle, by: VisitState, why: str) -> list[Action]:
    label = category_label(closed.category, o.language)
    note = text("periodic_restored", o.language, booking=o.booking_id, category=label)
    restored = replace(closed, task_state=TaskState.RESTORED, cancelled_by=None)
    return [
        RestoreTask(key=f"{closed.task_key}:restore:{o.stamp}", client_id=o.client.id, task_key=closed.task_key,
                    deadline=max(closed.due_at, o.now)),
        _update(o, closed, "restore", TaskState.RESTORED, None, True),
        AddNote(key=f"note:{closed.task_key}:restore:{o.stamp}", client_id=o.client.id, text=note),
        *_cancel_one(o, restored, by, why=f"rebooked-{why}"),
    ]


def _not_cancelled_after(visits: tuple[VisitState, ...], category: str, anchor: VisitState) -> list[VisitState]:
    return [v for v in visits if v.external_id != anchor.external_id and category in v.categories
            and v.start_at > anchor.start_at and v.status is not BookingStatus.CANCELLED]


def _visit_before(visits: tuple[VisitState, ...], category: str, start: datetime, exclude: str) -> VisitState | None:
    """The latest completed visit in ``category`` before ``start``."""
    done = [v for v in visits if v.external_id != exclude and v.status is BookingStatus.COMPLETED
            and category in v.categories and v.start_at < start]
    return max(done, key=lambda v: (v.start_at, v.external_id), default=None)


def _first_after(visits: tuple[VisitState, ...], category: str, anchor: VisitState) -> VisitState | None:
    """The soonest booking in ``category`` after ``anchor`` that was not cancelled."""
    return min(_not_cancelled_after(visits, category, anchor), key=lambda v: (v.start_at, v.external_id),
               default=None)


# --- a same-category booking cancels the open task -------------------------------------------------


def _cancel(o: Occasion) -> list[Action]:
    actions: list[Action] = []
    for category in o.categories:
        cycle = o.snapshot.cycle(category)
        if not cycle or cycle.anchor_visit_id == o.booking_id or o.booking.start_at <= _anchor_start(o, cycle):
            continue
        if cycle.task_active or (cycle.task_state is TaskState.CANCELLED_BY_BOOKING and _sooner(o, cycle)):
            actions += _cancel_one(o, cycle, o.visit_state())
    return actions


def _sooner(o: Occasion, cycle: Cycle) -> bool:
    """The booking starts before the one that cancelled the cycle's task (processed later than it): the task
    is the sooner booking's to cancel, as when the events come in the order the bookings were made."""
    current = o.visit(cycle.cancelled_by or "")
    return current is None or (o.booking.start_at, o.booking_id) < (current.start_at, current.external_id)


def _cancel_one(o: Occasion, cycle: Cycle, booking: VisitState, occasion: str | None = None,
                why: str = "cancel") -> list[Action]:
    """Close the cycle's task because ``booking`` (same category, after the anchor visit) is to come.

    ``occasion`` tells this cancellation apart (default: the event's stamp); a cycle cancelled as it opens
    uses a fixed one, so a visit completed again does not cancel it twice. ``why`` tells a cancellation from
    a task kept closed for the next booking when the one that closed it is cancelled ("repoint").
    """
    occasion = occasion or o.stamp
    lines = booking.lines or tuple(ServiceLine("", title) for title in booking.services)
    services = ", ".join(s.title for s in lines if cycle.category in categories_of(s, o.policy)) or ", ".join(
        booking.services)
    when = local_date(booking.start_at, o.policy.timezone, o.language)
    result = text("periodic_cancelled", o.language, service=services, date=when, booking=booking.external_id)
    complete: list[Action] = [] if cycle.task_state is TaskState.CANCELLED_BY_BOOKING and not cycle.task_exists else [
        CompleteTask(key=f"{cycle.task_key}:{why}:{occasion}", client_id=o.client.id, task_key=cycle.task_key,
                     result=result)]
    return [*complete, _update(o, cycle, why, TaskState.CANCELLED_BY_BOOKING, booking.external_id,
                               cycle.task_exists, occasion)]


def _anchor_start(o: Occasion, cycle: Cycle) -> datetime:
    """When the visit the cycle counts from started (from the stored visit, else from the due date)."""
    anchor = o.visit(cycle.anchor_visit_id)
    return anchor.start_at if anchor else cycle.due_at - timedelta(days=cycle.period_days)


def _update(o: Occasion, cycle: Cycle, why: str, state: TaskState, by: str | None, exists: bool,
            occasion: str | None = None) -> UpdateCycle:
    return UpdateCycle(
        key=f"cycle:{o.client.id}:{cycle.category}:{cycle.anchor_visit_id}:{why}:{occasion or o.stamp}",
        client_id=o.client.id,
        category=cycle.category,
        anchor_visit_id=cycle.anchor_visit_id,
        task_state=state,
        cancelled_by=by,
        task_exists=exists,
    )


# --- cancelling that booking restores the task ----------------------------------------------------


def _restore(o: Occasion) -> list[Action]:
    actions: list[Action] = []
    for cycle in o.snapshot.cycles:
        if cycle.task_state is TaskState.CANCELLED_BY_BOOKING and cycle.cancelled_by == o.booking_id:
            actions += _restore_one(o, cycle)
    return actions


def _restore_one(o: Occasion, cycle: Cycle) -> list[Action]:
    """The booking that closed the cycle's task is cancelled: from that moment on, the task's history as the
    client's bookings after the cycle's visit make it (``_replay``): re-pointed to the soonest booking still to
    come then (even one cancelled since, its cancellation processed first), else restored, and closed again
    by a booking made later (its event processed before this one)."""
    after = _anchor_start(o, cycle)
    known = (*(v for v in o.snapshot.client_visits if v.external_id != o.booking_id), o.visit_state())
    later = [v for v in known if cycle.category in v.categories and v.start_at > after]
    return _replay(o, cycle, later, o.event.occurred_at, o.stamp)[0]


def _task(o: Occasion, cycle: Cycle, deadline: datetime) -> CreateTask:
    visit_day = cycle.due_at.astimezone(o.policy.timezone) - timedelta(days=cycle.period_days)
    body = text(
        "periodic_task",
        o.language,
        client=o.client.name or o.client.id,
        service=cycle.service,
        master=cycle.master,
        date=local_date(visit_day, o.policy.timezone, o.language),
        days=cycle.period_days,
    )
    return CreateTask(
        key=cycle.task_key,
        client_id=o.client.id,
        task_kind=TaskKind.PERIODIC,
        text=body,
        deadline=deadline,
        responsible=o.policy.responsible_for(o.booking.branch),
    )


# --- a completed visit opens the next cycle per category ------------------------------------------


def _open(o: Occasion) -> list[Action]:
    periods, actions = _periods(o)
    for category, (days, line) in periods.items():
        previous = o.snapshot.cycle(category)
        if previous and previous.anchor_visit_id != o.booking_id and _older_than(o, previous):
            actions += _superseded(o, category, days, line, previous)
            continue
        actions += _close(o, previous) + _open_cycle(o, category, days, line)
    return actions


def _periods(o: Occasion) -> tuple[dict[str, tuple[int, ServiceLine]], list[Action]]:
    """Shortest periodicity per category of the visit, and a Skip for each thing that has none."""
    periods = shortest_periods(o.booking.services, o.policy)
    skips: dict[str, str] = {}
    for line in o.booking.services:
        categories = categories_of(line, o.policy)
        if not categories:
            skips[line.title] = f"service {line.title!r} has no category: no repeat-visit task"
        for category in (c for c in categories if c not in periods):
            skips[category] = f"category {category!r} has no periodicity: no repeat-visit task"
    return periods, [_skip(o, what, reason) for what, reason in skips.items()]


def _skip(o: Occasion, what: str, reason: str) -> Skip:
    return Skip(key=f"skip:autotask:{o.client.id}:{o.booking_id}:{what}", rule="autotask", reason=reason)


def _older_than(o: Occasion, cycle: Cycle) -> bool:
    tz = o.policy.timezone
    anchor_day = (cycle.due_at.astimezone(tz) - timedelta(days=cycle.period_days)).date()
    return o.booking.start_at.astimezone(tz).date() < anchor_day


def _close(o: Occasion, cycle: Cycle | None) -> list[Action]:
    if cycle is None or cycle.anchor_visit_id == o.booking_id:
        return []
    actions: list[Action] = []
    if cycle.task_active:
        when = local_date(o.booking.start_at, o.policy.timezone, o.language)
        result = text("periodic_superseded", o.language, date=when, booking=o.booking_id)
        actions.append(
            CompleteTask(
                key=f"{cycle.task_key}:superseded:{o.booking_id}",
                client_id=o.client.id,
                task_key=cycle.task_key,
                result=result,
            )
        )
    reason = f"visit {o.booking_id} completed in the same category"
    actions.append(
        CloseCycle(
            key=f"cycle:close:{o.client.id}:{cycle.category}:{cycle.anchor_visit_id}",
            client_id=o.client.id,
            category=cycle.category,
            anchor_visit_id=cycle.anchor_visit_id,
            reason=reason,
        )
    )
    return actions


def _new_cycle(o: Occasion, category: str, days: int, line: ServiceLine) -> Cycle:
    return Cycle(
        category=category,
        anchor_visit_id=o.booking_id,
        due_at=due_at(o.booking.start_at, days, o.policy),
        period_days=days,
        task_key=f"task:periodic:{o.client.id}:{category}:{o.booking_id}",
        service=line.title,
        master=o.master,
    )


def _open_cycle(o: Occasion, category: str, days: int, line: ServiceLine) -> list[Action]:
    cycle = _new_cycle(o, category, days, line)
    opened = OpenCycle.of(f"cycle:open:{o.client.id}:{category}:{o.booking_id}", o.client.id, cycle)
    if o.is_history and cycle.due_at < o.now - timedelta(days=o.policy.history_grace_days):
        # history mode: a cycle long over is kept as history, with no task and nothing for the playbook
        return [opened, CloseCycle(key=f"cycle:close:{o.client.id}:{category}:{o.booking_id}", client_id=o.client.id,
                                   category=category, anchor_visit_id=o.booking_id,
                                   reason=f"{HISTORY} due {cycle.due_at.date().isoformat()}, long over at import")]
    # booked ahead, or processed first: the task's history since the visit, as when the events come in order
    return [opened, _task(o, cycle, cycle.due_at), *_history(o, cycle)[0]]


def _superseded(o: Occasion, category: str, days: int, line: ServiceLine, newer: Cycle) -> list[Action]:
    """A visit older than the one the category's cycle counts from, processed after it: its cycle is kept
    as history, its task created and closed as cancelled by the booking that followed it (what the visit
    left when processed in order); the newer cycle and its task stay as they are."""
    cycle = _new_cycle(o, category, days, line)
    followed = _first_after(o.snapshot.client_visits, category, o.visit_state())
    if followed is None:
        reason = f"visit {o.booking_id} is older than visit {newer.anchor_visit_id} the cycle counts from"
        return [_skip(o, category, reason)]
    close = CloseCycle(key=f"cycle:close:{o.client.id}:{category}:{o.booking_id}", client_id=o.client.id,
                       category=category, anchor_visit_id=o.booking_id,
                       reason=f"visit {newer.anchor_visit_id} completed in the same category")
    history, last = _history(o, cycle)
    next_visit = _next_visit(o, category)
    if last.task_active and next_visit is not None:
        # in order, the next visit's completion closed the task still waiting for the admin
        when = local_date(next_visit.start_at, o.policy.timezone, o.language)
        history.append(CompleteTask(key=f"{cycle.task_key}:superseded:{next_visit.external_id}", client_id=o.client.id,
                                    task_key=cycle.task_key, result=text("periodic_superseded", o.language, date=when,
                                                                         booking=next_visit.external_id)))
    return [OpenCycle.of(f"cycle:open:{o.client.id}:{category}:{o.booking_id}", o.client.id, cycle),
            _task(o, cycle, cycle.due_at), *history, close]


# --- the task's history since its visit, from the bookings' timeline --------------------------------------


def _later(o: Occasion, category: str) -> list[VisitState]:
    """The client's other bookings in ``category`` that start after the event's visit."""
    return [v for v in o.snapshot.client_visits if v.external_id != o.booking_id and category in v.categories
            and v.start_at > o.booking.start_at]


def _next_visit(o: Occasion, category: str) -> VisitState | None:
    """The category's next completed visit after the event's visit: its completion closed the visit's cycle."""
    done = [v for v in _later(o, category) if v.status is BookingStatus.COMPLETED]
    return min(done, key=lambda v: (v.start_at, v.external_id), default=None)


def _cancelled_by(v: VisitState, moment: datetime) -> bool:
    return v.status is BookingStatus.CANCELLED and v.version <= moment


def _to_come_at(v: VisitState, moment: datetime) -> bool:
    """Made by ``moment``, starting after it and not cancelled by then: still to come at that moment."""
    return v.booked_by(moment) and v.start_at > moment and not _cancelled_by(v, moment)


def _history(o: Occasion, cycle: Cycle) -> tuple[list[Action], Cycle]:
    """What the bookings after the event's visit did to its new cycle's task (see ``_replay``)."""
    return _replay(o, cycle, _later(o, cycle.category), o.booking.start_at, "opened")


def _replay(o: Occasion, cycle: Cycle, later: list[VisitState], since: datetime,
            occasion: str) -> tuple[list[Action], Cycle]:
    """What the bookings ``later`` (same category, after the cycle's visit) did to the cycle's task from
    ``since`` (that moment's step keyed by ``occasion``), worked out from when each was made (``booked_at``)
    and cancelled (a cancelled booking's version), up to the category's next completed visit, rather than
    from the order their events were processed in: closed by the soonest booking to come, re-pointed to a
    sooner one made later or to the next one to come when that one is cancelled, restored (a note) when
    nothing else is to come then and closed again by the next booking made. The same task history (amoCRM
    tasks, results and notes) whichever of the visit and the bookings was processed first."""
    done = [v for v in later if v.status is BookingStatus.COMPLETED]
    until = min(done, key=lambda v: (v.start_at, v.external_id), default=None)
    made = (v.booked_at for v in later)
    cancelled = (v.version for v in later if v.status is BookingStatus.CANCELLED)
    moments = sorted({m for m in (*made, *cancelled) if m is not None and m > since
                      and (until is None or m < until.start_at)})
    actions: list[Action] = []
    state = cycle
    for i, moment in enumerate((since, *moments)):
        # (each run's own keys: a later run may replay a moment an earlier one did, from another state)
        step = occasion if i == 0 else f"{occasion}:history@{moment.isoformat()}"
        first = min((v for v in later if _to_come_at(v, moment)), key=lambda v: (v.start_at, v.external_id),
                    default=None)
        holder = next((v for v in later if v.external_id == state.cancelled_by), None)
        if state.task_active and first is not None:
            actions += _cancel_one(o, state, first, step, why="cancel" if step == "opened" else "history")
        elif state.task_active:
            continue
        elif holder is not None and first is None and _cancelled_by(holder, moment):
            label = category_label(cycle.category, o.language)
            deadline = max(cycle.due_at, o.now)
            task: Action = RestoreTask(key=f"{cycle.task_key}:restore:{step}", client_id=o.client.id,
                                       task_key=cycle.task_key, deadline=deadline) if state.task_exists \
                else _task(o, cycle, deadline)
            actions += [
                task,
                _update(o, state, "restore", TaskState.RESTORED, None, True, step),
                AddNote(key=f"note:{cycle.task_key}:restore:{step}", client_id=o.client.id,
                        text=text("periodic_restored", o.language, booking=holder.external_id, category=label)),
            ]
            state = replace(state, task_state=TaskState.RESTORED, cancelled_by=None, task_exists=True)
            continue
        elif first is not None and holder is not None and first.external_id != holder.external_id and (
                _cancelled_by(holder, moment) or (first.start_at, first.external_id) < (holder.start_at,
                                                                                          holder.external_id)):
            actions += _cancel_one(o, state, first, step, why="repoint")
        else:
            continue
        state = replace(state, task_state=TaskState.CANCELLED_BY_BOOKING, cancelled_by=first.external_id)
    return actions, state
