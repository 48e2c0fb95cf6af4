"""Read-only figures for /metrics, the demo summary and the dashboard's overview."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bridge.store.db import Store
from bridge.store.models import Client, InboundEvent, Visit


def events_by_status(store: Store, tenant: str | None = None, since: datetime | None = None) -> dict[str, int]:
    """Stored events by processing status; for one tenant and/or those received since ``since``."""
    query = select(InboundEvent.status, func.count()).group_by(InboundEvent.status)
    if tenant is not None:
        query = query.where(InboundEvent.tenant == tenant)
    if since is not None:
        query = query.where(InboundEvent.received_at >= since)
    with store.session() as s:
        return {status: n for status, n in s.execute(query)}


def events_by_tenant_and_status(store: Store) -> dict[tuple[str, str], int]:
    """Stored events per (tenant, processing status)."""
    query = select(InboundEvent.tenant, InboundEvent.status, func.count()).group_by(InboundEvent.tenant,
                                                                                   InboundEvent.status)
    with store.session() as s:
        return {(tenant, status): n for tenant, status, n in s.execute(query)}


def last_received_by_source(store: Store, tenant: str) -> dict[str, datetime]:
    """When the tenant's last delivery of each source (booking system, amoCRM) was stored."""
    with store.session() as s:
        rows = s.execute(select(InboundEvent.source, func.max(InboundEvent.received_at))
                         .where(InboundEvent.tenant == tenant).group_by(InboundEvent.source))
        return {source: at for source, at in rows}


def recent_latencies(store: Store, since: datetime, limit: int = 5000) -> list[float]:
    """Seconds from receipt to processed, for events processed since ``since``."""
    with store.session() as s:
        rows = s.execute(
            select(InboundEvent.received_at, InboundEvent.processed_at)
            .where(InboundEvent.processed_at.is_not(None), InboundEvent.processed_at >= since)
            .order_by(InboundEvent.processed_at.desc())
            .limit(limit)
        )
        return sorted(max(0.0, (done - got).total_seconds()) for got, done in rows)


def counts(store: Store, tenant: str | None = None) -> dict[str, object]:
    """Clients, and visits by status, for one tenant or all."""
    with store.session() as s:
        clients = select(func.count()).select_from(Client)
        visits = select(Visit.status, func.count()).group_by(Visit.status)
        if tenant:
            clients = clients.where(Client.tenant == tenant)
            visits = visits.where(Visit.tenant == tenant)
        return {"clients": s.scalar(clients) or 0, "visits": {st: n for st, n in s.execute(visits)}}
