"""Applied actions: each planned action is recorded under its idempotency key before it is carried out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.store.models import AppliedAction
from pipelines.actions import Action
from pipelines.events import jsonable


def action_payload(action: Action) -> dict[str, Any]:
    return jsonable(action)


def record_new(
    session: Session, tenant: str, event_id: int | None, client_id: int | None, actions: Sequence[Action],
    now: datetime,
) -> list[tuple[Action, AppliedAction]]:
    """Insert the actions whose keys were never seen; return only those (the rest were applied before)."""
    if not actions:
        return []
    keys = [a.key for a in actions]
    known = set(
        session.scalars(select(AppliedAction.key).where(AppliedAction.tenant == tenant, AppliedAction.key.in_(keys)))
    )
    fresh: list[tuple[Action, AppliedAction]] = []
    for action in actions:
        if action.key in known:
            continue
        known.add(action.key)
        row = AppliedAction(
            tenant=tenant,
            key=action.key,
            kind=action.kind,
            payload=action_payload(action),
            event_id=event_id,
            client_id=client_id,
            created_at=now,
        )
        session.add(row)
        fresh.append((action, row))
    session.flush()
    return fresh


def mark_applied(row: AppliedAction, now: datetime, result: dict[str, Any] | None = None, state: str = "done") -> None:
    row.state = state
    row.result = result
    row.applied_at = now
