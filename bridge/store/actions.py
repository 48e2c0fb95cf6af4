"""Applied actions: each planned action is recorded under its idempotency key, once.

Recording a plan is one multi-row INSERT that skips keys already present (so a retried job or a
repeated tick adds nothing), followed by the local effects of the rows that were new. Actions with an
amoCRM phase stay ``pending`` for the sync job, those for the booking system for
``jobs.booking_commands``; the rest are complete once written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.store.effects import effect_of, write_local
from bridge.store.models import AppliedAction
from pipelines.actions import Action


@dataclass(frozen=True)
class Recorded:
    """What a plan added: the actions recorded now, and whether any of them waits for amoCRM."""

    fresh: tuple[Action, ...]
    crm_pending: bool


def record(
    session: Session, tenant: str, event_id: int | None, client_id: int | None, actions: Sequence[Action],
    now: datetime,
) -> Recorded:
    """Record the actions whose keys are new and apply their local effects, in the caller's transaction."""
    unique: dict[str, Action] = {}
    for action in actions:
        unique.setdefault(action.key, action)
    if not unique:
        return Recorded((), False)
    rows = []
    for action in unique.values():
        effect = effect_of(action)
        crm = effect.crm is not None or effect.booking  # both wait for a job that carries them out
        rows.append({
            "tenant": tenant, "key": action.key, "kind": action.kind, "payload": action.to_dict(),
            "state": "pending" if crm else "done", "applied_at": None if crm else now,
            "event_id": event_id, "client_id": client_id, "created_at": now, "attempts": 0,
        })
    conn = session.connection()  # plain statements: the rows and their effects skip the ORM's execution layer
    statement = _INSERT_NEW.get(conn.dialect.name)
    inserted = set(conn.scalars(statement if statement is not None else _insert_any(), rows))
    fresh = tuple(a for a in unique.values() if a.key in inserted)
    if fresh:
        session.flush()  # the effects run as plain SQL at once: what the caller added goes in first
    for action in fresh:
        write_local(session, tenant, client_id, action, now)
    return Recorded(fresh, any(effect_of(a).crm is not None for a in fresh))


_TABLE = AppliedAction.__table__  # Core, so the rows go out as one multi-row statement
# Built once per database: recording runs for every event and every clock evaluation.
_INSERT_NEW = {
    "postgresql": postgresql.insert(_TABLE).on_conflict_do_nothing(constraint="uq_action_key")
    .returning(_TABLE.c.key),
    "sqlite": sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["tenant", "key"]).returning(_TABLE.c.key),
}


def _insert_any():
    """INSERT … RETURNING key, for a database without ON CONFLICT DO NOTHING here."""
    return insert(_TABLE).returning(_TABLE.c.key)
