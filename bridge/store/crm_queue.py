"""The amoCRM backlog: pending actions read back typed, and each request's outcome recorded at once.

The sync job reads a window of a tenant's pending actions, sends them phase by phase, and records
what each amoCRM request did as soon as its response is in (one short transaction per request, links
included), so a round that fails half-way keeps everything that succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select, update

from bridge.store import links
from bridge.store.db import Store
from bridge.store.effects import CRM_KINDS
from bridge.store.models import AppliedAction, TenantState
from pipelines.actions import Action

log = logging.getLogger(__name__)
A = TypeVar("A", bound=Action, covariant=True)


@dataclass(frozen=True, eq=False)
class Pending(Generic[A]):
    """One pending amoCRM action: its stored row id, the typed action, and how often it was sent."""

    id: int
    action: A
    attempts: int


@dataclass
class Outcomes:
    """What one request did to the actions in it, and the amoCRM ids it taught us."""

    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    links: list[tuple[str, str, int]] = field(default_factory=list)  # (local kind, local key, amoCRM id)

    def __bool__(self) -> bool:
        return bool(self.done or self.failed or self.skipped or self.links)


def pending(store: Store, tenant: str, limit: int) -> list[Pending]:
    """The oldest pending amoCRM actions of ``tenant``, typed."""
    with store.session() as s:
        rows = s.execute(
            select(AppliedAction.id, AppliedAction.kind, AppliedAction.payload, AppliedAction.attempts)
            .where(AppliedAction.state == "pending", AppliedAction.tenant == tenant,
                   AppliedAction.kind.in_(CRM_KINDS))
            .order_by(AppliedAction.id).limit(limit)
        ).all()
    return [Pending(r.id, Action.from_dict(r.kind, r.payload), r.attempts) for r in rows]


def pending_count(store: Store, tenant: str) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AppliedAction).where(
            AppliedAction.state == "pending", AppliedAction.tenant == tenant, AppliedAction.kind.in_(CRM_KINDS)
        )) or 0


def backlog(store: Store) -> dict[str, datetime]:
    """Every tenant with pending amoCRM work and when its oldest pending action was recorded."""
    with store.session() as s:
        rows = s.execute(
            select(AppliedAction.tenant, func.min(AppliedAction.created_at))
            .where(AppliedAction.state == "pending", AppliedAction.kind.in_(CRM_KINDS))
            .group_by(AppliedAction.tenant)
        )
        return {tenant: oldest for tenant, oldest in rows}


def backlog_span(store: Store) -> dict[str, tuple[datetime, datetime]]:
    """Every tenant with pending amoCRM work: when its oldest and its newest pending action were recorded."""
    with store.session() as s:
        rows = s.execute(
            select(AppliedAction.tenant, func.min(AppliedAction.created_at), func.max(AppliedAction.created_at))
            .where(AppliedAction.state == "pending", AppliedAction.kind.in_(CRM_KINDS))
            .group_by(AppliedAction.tenant)
        )
        return {tenant: (oldest, newest) for tenant, oldest, newest in rows}


def backlog_by_tenant(store: Store) -> dict[str, tuple[int, datetime]]:
    """Every tenant with pending amoCRM work: how many actions wait, and when the oldest was recorded."""
    with store.session() as s:
        rows = s.execute(
            select(AppliedAction.tenant, func.count(), func.min(AppliedAction.created_at))
            .where(AppliedAction.state == "pending", AppliedAction.kind.in_(CRM_KINDS))
            .group_by(AppliedAction.tenant)
        )
        return {tenant: (n, oldest) for tenant, n, oldest in rows}


def attempting(store: Store, items: Iterable[Pending]) -> None:
    """Committed before a create is sent: a later round knows it may already exist in amoCRM."""
    ids = [i.id for i in items]
    if ids:
        with store.session() as s:
            s.execute(update(AppliedAction).where(AppliedAction.id.in_(ids))
                      .values(attempts=AppliedAction.attempts + 1))


def settle(store: Store, tenant: str, outcomes: Outcomes, now: datetime) -> None:
    """Record one request's outcomes and the links it made, in one transaction."""
    if not outcomes:
        return
    rows = [{"id": action_id, "state": "done", "applied_at": now, "result": result}
            for action_id, result in outcomes.done.items()]
    ended = [{"id": action_id, "state": state, "applied_at": now, "error": reason[:2000]}
             for state, reasons in (("failed", outcomes.failed), ("skipped", outcomes.skipped))
             for action_id, reason in reasons.items()]
    with store.session() as s:  # a few statements, not one per action: SQLite's write lock is held meanwhile
        links.put_many(s, tenant, outcomes.links, now)
        for batch in (rows, ended):
            if batch:
                s.execute(update(AppliedAction), batch)
    for row in ended:
        log.warning("amoCRM action %s of %s %s: %s", row["id"], tenant, row["state"], row["error"][:300])


def actions_by_key(store: Store, tenant: str, keys: Sequence[str]) -> dict[str, Action]:
    """Recorded actions by key, typed (e.g. the CreateTask a RestoreTask brings back)."""
    if not keys:
        return {}
    with store.session() as s:
        rows = s.execute(select(AppliedAction.key, AppliedAction.kind, AppliedAction.payload)
                         .where(AppliedAction.tenant == tenant, AppliedAction.key.in_(list(keys))))
        return {r.key: Action.from_dict(r.kind, r.payload) for r in rows}


def contact_names_sent(store: Store, tenant: str, client_ids: Iterable[str]) -> dict[str, str]:
    """The name each client's amoCRM contact was last given (its latest carried-out UpsertContact)."""
    ids = sorted({int(c) for c in client_ids if str(c).isdigit()})
    if not ids:
        return {}
    with store.session() as s:
        rows = s.execute(
            select(AppliedAction.client_id, AppliedAction.payload)
            .where(AppliedAction.tenant == tenant, AppliedAction.client_id.in_(ids),
                   AppliedAction.kind == "UpsertContact", AppliedAction.state == "done")
            .order_by(AppliedAction.id)
        )
        return {str(r.client_id): r.payload["name"] for r in rows if r.payload.get("name")}


# -- the tenant's pause, when amoCRM blocks it or its authorization is gone --------------------------------


def paused(store: Store, tenant: str, now: datetime) -> tuple[datetime, str] | None:
    with store.session() as s:
        state = s.get(TenantState, tenant)
        if state and state.amocrm_paused_until and state.amocrm_paused_until > now:
            return state.amocrm_paused_until, state.amocrm_pause_reason or ""
    return None


def pause(store: Store, tenant: str, until: datetime, reason: str) -> None:
    with store.session() as s:
        state = s.get(TenantState, tenant) or TenantState(slug=tenant)
        state.amocrm_paused_until, state.amocrm_pause_reason = until, reason
        s.merge(state)
