"""The booking systems' service catalogs, cached per branch (tenant + source + company id).

Each branch of a salon has its own services in YCLIENTS, so a service known only at a second branch is
looked up in that branch's catalog, never taken as missing because another branch was fetched recently.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from bridge.booking.source import ServiceInfo
from bridge.store.db import Store
from bridge.store.models import CatalogEntry
from pipelines.catalog import Listing

# Categorised entries a process has read lately: a catalog changes rarely, and every YCLIENTS event would
# otherwise read it again. Entries without a category and services not cached are always read afresh,
# so a refetch on a miss is seen at once; a category changed by another process shows after HOT_FOR_S.
HOT_FOR_S = 60.0
_hot: dict[tuple[str, str, str, str, str], tuple[float, Listing]] = {}  # (database, tenant, source, branch, id)


def listings(store: Store, tenant: str, source: str, company_id: str, service_ids: Iterable[str]) -> dict[str, Listing]:
    """The cached entries of these services in this branch, by service id."""
    wanted, found, now = list(service_ids), {}, time.monotonic()
    for service_id in wanted:
        hot = _hot.get((store.url, tenant, source, company_id, service_id))
        if hot is not None and now - hot[0] < HOT_FOR_S:
            found[service_id] = hot[1]
    rest = [sid for sid in wanted if sid not in found]
    if not rest:
        return found
    with store.session() as s:
        rows = s.scalars(select(CatalogEntry).where(
            CatalogEntry.tenant == tenant, CatalogEntry.source == source, CatalogEntry.company_id == company_id,
            CatalogEntry.service_id.in_(rest),
        ))
        for r in rows:
            found[r.service_id] = listing = Listing(r.service_id, r.title, r.category_id, r.category)
            if listing.category or listing.category_id:
                _hot[(store.url, tenant, source, company_id, r.service_id)] = (now, listing)
    return found


def fetched_at(store: Store, tenant: str, source: str, company_id: str) -> datetime | None:
    """When this branch's catalog was last fetched (None: never)."""
    with store.session() as s:
        return s.scalar(select(func.max(CatalogEntry.fetched_at)).where(
            CatalogEntry.tenant == tenant, CatalogEntry.source == source, CatalogEntry.company_id == company_id,
        ))


def save(store: Store, tenant: str, source: str, company_id: str, services: list[ServiceInfo], now: datetime) -> int:
    """Replace what is cached for the branch's services; returns how many were written."""
    for key in [k for k in _hot if k[:4] == (store.url, tenant, source, company_id)]:
        _hot.pop(key, None)
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
