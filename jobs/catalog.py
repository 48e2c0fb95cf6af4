"""Fill in service categories that the booking payload lacks (YCLIENTS webhooks carry none)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from bridge.booking.yclients import YclientsError
from bridge.services import Services
from bridge.store.models import CatalogEntry
from config.tenants import Tenant
from jobs.booking_sync import refresh_catalog, yclients_client
from pipelines.events import ServiceLine, VisitEvent

log = logging.getLogger(__name__)


REFETCH_AFTER = timedelta(minutes=10)  # a service YCLIENTS itself leaves uncategorised is not refetched per event


def resolve_categories(svc: Services, tenant: Tenant, event: VisitEvent, now: datetime) -> VisitEvent:
    """Categories from the tenant's overrides, then the cached catalog, then the booking system's API."""
    lines = _resolve(svc, tenant, event)
    if any(not line.category for line in lines) and event.booking.branch and _refetch(svc, tenant, event, now):
        lines = _resolve(svc, tenant, event)
    return dataclasses.replace(event, booking=dataclasses.replace(event.booking, services=lines))


def _resolve(svc: Services, tenant: Tenant, event: VisitEvent) -> tuple[ServiceLine, ...]:
    missing = [line.external_id for line in event.booking.services if not line.category]
    cached = _cached(svc, tenant, event.source, missing) if missing else {}
    return tuple(_with_category(line, tenant, cached) for line in event.booking.services)


def _refetch(svc: Services, tenant: Tenant, event: VisitEvent, now: datetime) -> bool:
    client = yclients_client(tenant) if event.source == "yclients" else None
    if client is None:
        return False
    try:
        return refresh_catalog(svc, tenant, client, event.booking.branch, now, only_if_older=REFETCH_AFTER) > 0
    except YclientsError as exc:  # categories stay unknown; the rules skip what needs them, with a reason
        log.warning("service catalog of %s unavailable: %s", tenant.slug, exc)
        return False
    finally:
        client.close()


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
