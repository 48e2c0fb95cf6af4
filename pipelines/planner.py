"""``plan``: the one entry point from an event to the actions it causes."""

from __future__ import annotations

from datetime import datetime

from pipelines.actions import Action, RecordVisit
from pipelines.events import VisitEvent
from pipelines.policy import Policy
from pipelines.snapshot import Snapshot
from pipelines.transitions import is_stale, transitions


def plan(event: VisitEvent, snapshot: Snapshot, policy: Policy, now: datetime) -> list[Action]:
    """Actions caused by ``event`` given what is stored; deterministic for a fixed ``now``.

    A stale snapshot (older than the stored one) and a snapshot that changes nothing both plan nothing.
    """
    if is_stale(snapshot.visit, event):
        return []
    steps = transitions(snapshot.visit, event.booking)
    if not steps:
        return []
    booking_id = event.booking.external_id
    key = f"visit:{event.source}:{booking_id}:{event.occurred_at.isoformat()}"
    return [RecordVisit(key=key, booking_id=booking_id, transitions=steps)]
