"""When the clock should next ask ``due`` about a client: the third pure entry point beside ``plan``/``due``.

``due`` only ever compares ``now`` with a handful of instants derived from the snapshot: each open
cycle's reminder time, due date and lost threshold, the start of each booking still to come (after
which it no longer holds a cycle or the lost sequence back), and the next step of a running win-back
sequence, each Reconnect follow-up, and the client's next birthday greeting. Between two of those
instants its answer cannot change, so the job layer stores the next one as the client's wake-up and the
clock looks at nobody else.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from pipelines.policy import Policy
from pipelines.rules.birthday import greeting_instants
from pipelines.snapshot import Snapshot
from pipelines.timing import lost_at, next_step_at, reminder_at

PAST_START = timedelta(seconds=1)  # a booking stops being "upcoming" just after it starts


def next_wakeup(snapshot: Snapshot, policy: Policy, now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which ``due(snapshot, policy, t)`` may plan something new."""
    return min((t for t in _instants(snapshot, policy, now) if t > now), default=None)


def _instants(snapshot: Snapshot, policy: Policy, now: datetime) -> Iterator[datetime]:
    if snapshot.client is None:
        return
    yield from greeting_instants(snapshot.client.birthday, policy, now)
    for cycle in snapshot.cycles:
        yield reminder_at(cycle, policy)
        yield cycle.due_at  # the optional promo
        yield lost_at(cycle, policy)
    for visit in snapshot.client_visits:
        if visit.status.is_upcoming:
            yield visit.start_at + PAST_START
    for contact in snapshot.reconnect:
        if contact.follow_up_at is not None:
            yield contact.follow_up_at  # the Reconnect follow-up, unless the client rebooked
    lost = snapshot.lost
    if lost is not None and lost.step.running:
        yield next_step_at(lost, policy)
