"""Keep in step with the booking system beyond its webhooks.

YCLIENTS neither retries failed webhooks nor puts service categories in them, so:
- ``catch_up`` polls records changed since the last poll (with a few minutes of overlap) and feeds
  them through the same intake as live deliveries; the dedupe key makes re-seen snapshots free;
- ``refresh_catalog`` caches each branch's services with their categories.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from bridge import intake
from bridge.booking.errors import BookingInputError
from bridge.booking.yclients import ServiceInfo, YclientsClient, YclientsError, record_as_webhook
from bridge.services import Services
from bridge.store.models import CatalogEntry, TenantState
from config.tenants import Tenant

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(days=1)
CATALOG_MAX_AGE = timedelta(hours=6)


def yclients_client(tenant: Tenant) -> YclientsClient | None:
    """The tenant's YCLIENTS API client, or None when it has no API credentials configured."""
    if tenant.booking.kind != "yclients":
        return None
    partner, user = tenant.secret(tenant.booking.partner_token_env), tenant.secret(tenant.booking.user_token_env)
    return YclientsClient(tenant.booking.api_url, partner, user) if partner and user else None


def catch_up(svc: Services, now: datetime) -> int:
    """Poll every due tenant; returns how many new events were stored."""
    stored = 0
    for tenant in svc.tenants.values():
        client = yclients_client(tenant)
        if client is None:
            continue
        try:
            stored += _catch_up_tenant(svc, tenant, client, now)
        except YclientsError as exc:  # the next tick tries again from the same watermark
            log.warning("catch-up for %s failed: %s", tenant.slug, exc)
        finally:
            client.close()
    return stored


def _catch_up_tenant(svc: Services, tenant: Tenant, client: YclientsClient, now: datetime) -> int:
    with svc.store.session() as s:
        state = s.get(TenantState, tenant.slug)
        watermark = state.booking_watermark if state else None
    if watermark and now - watermark < timedelta(seconds=tenant.booking.poll_interval_s):
        return 0
    since = (watermark or now - FIRST_LOOKBACK) - OVERLAP
    stored = 0
    for branch in tenant.branches:
        refresh_catalog(svc, tenant, client, branch.id, now, only_if_older=CATALOG_MAX_AGE)
        for record in client.records_changed_since(branch.id, since, tz=tenant.timezone):
            try:
                receipt = intake.receive(svc.store, svc.queue, tenant, "yclients", record_as_webhook(record), now)
            except BookingInputError as exc:
                log.warning("catch-up skipped record %s of %s: %s", record.get("id"), tenant.slug, exc)
                continue
            stored += not receipt.duplicate
    with svc.store.session() as s:
        state = s.get(TenantState, tenant.slug) or TenantState(slug=tenant.slug)
        state.booking_watermark = now
        s.merge(state)
    if stored:
        log.info("catch-up for %s recovered %d event(s) missed by webhooks", tenant.slug, stored)
    return stored


def refresh_catalog(
    svc: Services, tenant: Tenant, client: YclientsClient, company_id: str, now: datetime,
    only_if_older: timedelta | None = None,
) -> int:
    """Cache one branch's services and categories; returns how many services were written."""
    if only_if_older is not None and _catalog_fresh(svc, tenant, now - only_if_older):
        return 0
    services: list[ServiceInfo] = client.catalog(company_id)
    with svc.store.session() as s:
        known = {
            e.service_id: e
            for e in s.scalars(select(CatalogEntry).where(CatalogEntry.tenant == tenant.slug,
                                                          CatalogEntry.source == "yclients"))
        }
        for info in services:
            entry = known.get(info.id) or CatalogEntry(tenant=tenant.slug, source="yclients", service_id=info.id)
            entry.title, entry.category_id, entry.category, entry.fetched_at = (
                info.title, info.category_id, info.category, now)
            s.add(entry)
    return len(services)


def _catalog_fresh(svc: Services, tenant: Tenant, newer_than: datetime) -> bool:
    with svc.store.session() as s:
        newest = s.scalar(
            select(CatalogEntry.fetched_at).where(CatalogEntry.tenant == tenant.slug)
            .order_by(CatalogEntry.fetched_at.desc()).limit(1)
        )
    return newest is not None and newest > newer_than
