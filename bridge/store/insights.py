"""What the dashboard reads about one tenant's playbook: leads per pipeline stage, repeat-visit tasks,
messages sent, and one client's timeline (events, the actions they caused, amoCRM ids). Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from bridge.store.db import Store
from bridge.store.models import (
    AppliedAction,
    Client,
    CrmLink,
    CycleRow,
    InboundEvent,
    LeadRow,
    MessageRow,
    PaymentCallback,
    Visit,
)

TASK_STATES = ("open", "cancelled_by_booking", "restored", "done_by_person")
TASK_LIMIT = 200
TIMELINE_LIMIT = 300


def leads_by_stage(store: Store, tenant: str) -> dict[str, dict[str, int]]:
    """Per pipeline, the robot's leads per stage (closed ones under their closing stage)."""
    query = (select(LeadRow.pipeline, LeadRow.stage, func.count()).where(LeadRow.tenant == tenant)
             .group_by(LeadRow.pipeline, LeadRow.stage))
    out: dict[str, dict[str, int]] = {}
    with store.session() as s:
        for pipeline, stage, n in s.execute(query):
            out.setdefault(pipeline, {})[stage] = n
    return out


@dataclass(frozen=True)
class RepeatTask:
    client_id: int
    client: str | None
    category: str
    service: str | None
    master: str | None
    due_at: datetime
    state: str
    reason: str | None


def task_counts(store: Store, tenant: str) -> dict[str, int]:
    """Repeat-visit tasks by state (open, cancelled by a booking, restored, done by a person)."""
    query = (select(CycleRow.task_state, func.count()).where(CycleRow.tenant == tenant, CycleRow.task_exists)
             .group_by(CycleRow.task_state))
    with store.session() as s:
        return {state: n for state, n in s.execute(query)}


def repeat_tasks(store: Store, tenant: str, states: tuple[str, ...] = ("open", "restored"),
                 limit: int = TASK_LIMIT, *, latest_first: bool = False) -> list[RepeatTask]:
    """The repeat-visit tasks in these states, nearest deadline first (or the latest deadlines first)."""
    order = (CycleRow.due_at.desc(), CycleRow.id.desc()) if latest_first else (CycleRow.due_at, CycleRow.id)
    query = (select(CycleRow, Client.name).join(Client, Client.id == CycleRow.client_id)
             .where(CycleRow.tenant == tenant, CycleRow.task_exists, CycleRow.task_state.in_(states))
             .order_by(*order).limit(limit))
    with store.session() as s:
        return [RepeatTask(c.client_id, name, c.category, c.service, c.master, c.due_at, c.task_state,
                           c.close_reason) for c, name in s.execute(query)]


def messages_sent(store: Store, tenant: str, since: datetime | None = None) -> list[tuple[str, str, int]]:
    """(template, channel, how many) of the messages sent, most first."""
    n = func.count().label("n")
    query = (select(MessageRow.template, MessageRow.channel, n)
             .where(MessageRow.tenant == tenant, MessageRow.state == "sent")
             .group_by(MessageRow.template, MessageRow.channel).order_by(n.desc(), MessageRow.template))
    if since is not None:
        query = query.where(MessageRow.sent_at >= since)
    with store.session() as s:
        return [(template, channel or "?", count) for template, channel, count in s.execute(query)]


def find_clients(store: Store, tenant: str, text: str, limit: int = 20) -> list[tuple[int, str | None]]:
    """Clients whose name contains ``text`` (or whose id it is), by name."""
    query = select(Client.id, Client.name).where(Client.tenant == tenant)
    text = text.strip()
    if text.isdigit():
        query = query.where(or_(Client.id == int(text), Client.name.ilike(f"%{text}%")))
    elif text:
        query = query.where(Client.name.ilike(f"%{text}%"))
    with store.session() as s:
        return [(cid, name) for cid, name in s.execute(query.order_by(Client.name, Client.id).limit(limit))]


@dataclass
class Timeline:
    client_id: int
    name: str | None
    contact_amo_id: int | None
    entries: list[dict[str, Any]] = field(default_factory=list)  # newest first
    lead_ids: dict[str, int] = field(default_factory=dict)  # lead key -> amoCRM id
    task_ids: dict[str, int] = field(default_factory=dict)  # task key -> amoCRM id


def client_timeline(store: Store, tenant: str, client_id: int, limit: int = TIMELINE_LIMIT) -> Timeline | None:
    """One client's events, the actions each caused and the amoCRM ids they got; None for another tenant's."""
    with store.session() as s:
        client = s.get(Client, client_id)
        if client is None or client.tenant != tenant:
            return None
        rows = s.execute(
            select(AppliedAction, InboundEvent.source, InboundEvent.received_at)
            .outerjoin(InboundEvent, InboundEvent.id == AppliedAction.event_id)
            .where(AppliedAction.tenant == tenant, AppliedAction.client_id == client_id)
            .order_by(AppliedAction.id.desc()).limit(limit)
        ).all()
        visits = s.execute(select(Visit.external_id, Visit.status, Visit.start_at, Visit.categories, Visit.staff_name)
                           .where(Visit.tenant == tenant, Visit.client_id == client_id)).all()
        lead_keys = list(s.scalars(select(LeadRow.key).where(LeadRow.tenant == tenant, LeadRow.client_id == client_id)))
        task_keys = list(s.scalars(select(CycleRow.task_key).where(CycleRow.tenant == tenant,
                                                                   CycleRow.client_id == client_id)))
        links = s.execute(select(CrmLink.local_kind, CrmLink.local_key, CrmLink.amo_id).where(
            CrmLink.tenant == tenant,
            or_((CrmLink.local_kind == "contact") & (CrmLink.local_key == str(client_id)),
                (CrmLink.local_kind == "lead") & CrmLink.local_key.in_(lead_keys or [""]),
                (CrmLink.local_kind == "task") & CrmLink.local_key.in_(task_keys or [""]))
        )).all()
    found = Timeline(client_id, client.name, None)
    for kind, key, amo_id in links:
        if kind == "contact":
            found.contact_amo_id = amo_id
        elif kind == "lead":
            found.lead_ids[key] = amo_id
        else:
            found.task_ids[key] = amo_id
    for action, source, received_at in rows:
        payload = action.payload or {}
        amo_id = next((ids[k] for ids in (found.task_ids, found.lead_ids)
                       for k in (action.key, payload.get("task_key"), payload.get("lead_key")) if k in ids), None)
        found.entries.append({
            "at": action.created_at, "what": "action", "kind": action.kind, "state": action.state,
            "event_id": action.event_id, "source": source, "received_at": received_at, "error": action.error,
            "applied_at": action.applied_at, "amo_id": amo_id, "pipeline": payload.get("pipeline"),
            "stage": payload.get("stage"), "category": payload.get("category"),
        })
    for external_id, status, start_at, categories, master in visits:
        found.entries.append({"at": start_at, "what": "visit", "kind": status, "booking": external_id,
                              "categories": ", ".join(categories or []), "master": master})
    found.entries.sort(key=lambda e: e["at"], reverse=True)
    return found


def tenants_of_events(store: Store, event_ids: list[int]) -> dict[int, str]:
    """The tenant of each stored event (for the failed jobs, which name only the event)."""
    if not event_ids:
        return {}
    with store.session() as s:
        rows = s.execute(select(InboundEvent.id, InboundEvent.tenant).where(InboundEvent.id.in_(event_ids)))
        return {event_id: tenant for event_id, tenant in rows}


def last_payment_callbacks(store: Store, tenant: str) -> dict[str, datetime]:
    """When each payment provider last called back for the tenant."""
    with store.session() as s:
        rows = s.execute(select(PaymentCallback.provider, func.max(PaymentCallback.last_received_at))
                         .where(PaymentCallback.tenant == tenant).group_by(PaymentCallback.provider))
        return {provider: at for provider, at in rows}
