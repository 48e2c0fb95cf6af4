"""Actions: the imperative intents ``plan`` returns and the executor carries out.

Every action has an idempotency ``key`` derived from the rule and the occasion, so applying the same
plan twice (a redelivered event, a retried job) is recognised and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.transitions import Transition


@dataclass(frozen=True)
class Action:
    key: str

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class RecordVisit(Action):
    """Bookkeeping: the booking moved through these transitions (stored as the visit's history)."""

    booking_id: str
    transitions: tuple[Transition, ...]
