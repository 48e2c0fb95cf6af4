"""The booking systems' service catalogs, cached per branch (tenant + source + company id).

Each branch of a salon has its own services in YCLIENTS, so a service known only at a second branch is
looked up in that branch's catalog, never taken as missing because another branch was fetched recently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from bridge.booking.source import ServiceInfo
from bridge.store.db import Store
from bridge.store.models import CatalogEntry
from pipelines.catalog import Listing


def listings(store: Store, tenant: str, source: str, company_id: str, service_ids: Iterable[str]) -> dict[str, Listing]:
    """The cached entries of these services in this branch, by service id."""
    with store.session() as s:
        rows = s.scalars(select(CatalogEntry).where(
            CatalogEntry.tenant == tenant, CatalogEntry.source == source, CatalogEntry.company_id == company_id,
            CatalogEntry.service_id.in_(list(service_ids)),
        ))
        return {r.service_id: Listing(r.service_id, r.title, r.category_id, r.category) for r in rows}


def fetched_at(store: Store, tenant: str, source: str, company_id: str) -> datetime | None:
    """When this branch's catalog was last fetched (None: never)."""
    with store.session() as s:
        return s.scalar(select(func.max(CatalogEntry.fetched_at)).where(
            CatalogEntry.tenant == tenant, CatalogEntry.source == source, CatalogEntry.company_id == company_id,
        ))


def save(store: Store, tenant: str, source: str, company_id: str, services: list[ServiceInfo], now: datetime) -> int:
    """Replace what is cached for the branch's services; returns how many were written."""
    with store.session() as s:
        known = {
            e.service_id: e for e in s.scalars(select(CatalogEntry).where(
                CatalogEntry.tenant == tenant, CatalogEntry.source == source, CatalogEntry.company_id == company_id,
            ))
        }
        for info in services:
            entry = known.get(info.id) or CatalogEntry(
                tenant=tenant, source=source, company_id=company_id, service_id=info.id)
            entry.title, entry.category_id, entry.category, entry.fetched_at = (
                info.title[:200], info.category_id, info.category[:120] if info.category else None, now)
            s.add(entry)
    return len(services)
