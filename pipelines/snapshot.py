"""What the store already knows when an event arrives: the input ``plan`` decides from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pipelines.events import BookingStatus


@dataclass(frozen=True)
class VisitState:
    """The last stored snapshot of one booking."""

    external_id: str
    status: BookingStatus
    start_at: datetime
    staff_id: str | None
    version: datetime  # occurred_at of the event that wrote it


@dataclass(frozen=True)
class Snapshot:
    """The stored history an event is judged against (extended by the playbook rules)."""

    visit: VisitState | None = None
    client_visits: tuple[VisitState, ...] = field(default_factory=tuple)
