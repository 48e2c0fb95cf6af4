"""Keep in step with the booking systems beyond their webhooks, for every source that can be polled.

YCLIENTS neither retries failed webhooks nor puts service categories in them, so:
- ``catch_up`` polls records changed since the last poll (with a few minutes of overlap) and feeds
  them through the same intake as live deliveries; the dedupe key makes re-seen snapshots free;
- ``refresh_catalog`` caches a branch's services with their categories.
Which sources can do either is declared in ``bridge/booking/registry.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bridge import intake
from bridge.booking import registry
from bridge.booking.errors import BookingInputError
from bridge.booking.source import CatalogLookup, Poller, Source, SourceApiError
from bridge.services import Services
from bridge.store import catalog as cached
from bridge.store.watermarks import booking_watermark, set_booking_watermark
from config.tenants import Tenant

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(days=1)
CATALOG_MAX_AGE = timedelta(hours=6)


def catch_up(svc: Services, now: datetime) -> int:
    """Poll every due tenant whose source can be polled; returns how many new events were stored."""
    stored = 0
    for tenant in svc.tenants.values():
        source = registry.get(tenant.booking.kind)
        poller = source.poller(tenant) if source is not None and source.poller else None
        if source is None or poller is None:
            continue
        try:
            stored += _catch_up_tenant(svc, tenant, source, poller, now)
        except SourceApiError as exc:  # the next tick tries again from the same watermark
            log.warning("catch-up for %s failed: %s", tenant.slug, exc)
        finally:
            poller.close()
    return stored


def _catch_up_tenant(svc: Services, tenant: Tenant, source: Source, poller: Poller, now: datetime) -> int:
    watermark = booking_watermark(svc.store, tenant.slug)
    if watermark and now - watermark < timedelta(seconds=tenant.booking.poll_interval_s):
        return 0
    since = (watermark or now - FIRST_LOOKBACK) - OVERLAP
    stored = 0
    lookup = source.catalog(tenant) if source.catalog else None
    try:
        for branch in tenant.branches:
            if lookup is not None:
                refresh_catalog(svc, tenant, source, lookup, branch.id, now, only_if_older=CATALOG_MAX_AGE)
            for body in poller.changes_since(branch.id, since):
                try:
                    receipt = intake.receive(svc.store, svc.queue, tenant, source.name, body, now, svc.limits)
                except BookingInputError as exc:
                    log.warning("catch-up skipped a record of %s: %s", tenant.slug, exc)
                    continue
                stored += not receipt.duplicate
    finally:
        if lookup is not None:
            lookup.close()
    set_booking_watermark(svc.store, tenant.slug, now)
    if stored:
        log.info("catch-up for %s recovered %d event(s) missed by webhooks", tenant.slug, stored)
    return stored


def refresh_catalog(
    svc: Services, tenant: Tenant, source: Source, lookup: CatalogLookup, company_id: str, now: datetime,
    only_if_older: timedelta | None = None,
) -> int:
    """Cache one branch's services and categories; returns how many services were written."""
    if only_if_older is not None:
        fetched = cached.fetched_at(svc.store, tenant.slug, source.name, company_id)
        if fetched is not None and fetched > now - only_if_older:
            return 0
    return cached.save(svc.store, tenant.slug, source.name, company_id, lookup.catalog(company_id), now)
