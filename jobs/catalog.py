"""Fill in service categories that the booking payload lacks (YCLIENTS webhooks carry none)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select

from bridge.services import Services
from bridge.store.models import CatalogEntry
from config.tenants import Tenant
from pipelines.events import ServiceLine, VisitEvent


def resolve_categories(svc: Services, tenant: Tenant, event: VisitEvent, now: datetime) -> VisitEvent:
    """Categories from the tenant's overrides first, then the cached booking-system catalog."""
    missing = [line for line in event.booking.services if not line.category]
    if not missing:
        return event
    cached = _cached(svc, tenant, event.source, [line.external_id for line in missing])
    lines = tuple(_with_category(line, tenant, cached) for line in event.booking.services)
    return dataclasses.replace(event, booking=dataclasses.replace(event.booking, services=lines))


def _with_category(line: ServiceLine, tenant: Tenant, cached: dict[str, str]) -> ServiceLine:
    if line.category:
        return line
    override = tenant.catalog.services.get(line.external_id) or tenant.catalog.services.get(line.title)
    category = (override.category if override else None) or cached.get(line.external_id)
    return dataclasses.replace(line, category=category) if category else line


def _cached(svc: Services, tenant: Tenant, source: str, service_ids: list[str]) -> dict[str, str]:
    with svc.store.session() as s:
        rows = s.execute(
            select(CatalogEntry.service_id, CatalogEntry.category).where(
                CatalogEntry.tenant == tenant.slug,
                CatalogEntry.source == source,
                CatalogEntry.service_id.in_(service_ids),
            )
        )
        return {sid: cat for sid, cat in rows if cat}
