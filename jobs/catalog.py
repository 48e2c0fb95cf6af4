"""Fill in each service line's category, the same way for every booking source.

The order is ``pipelines.catalog.match_category``'s: the tenant's overrides by service id, then by exact
title, then the booking system's own category (in the event, else its catalog for the event's branch),
then the title read as a category name or alias. The catalog of a branch is fetched again when one of
its services is missing (at most once a minute per branch) or, for a service it leaves uncategorised,
when it is older than ten minutes.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from bridge.booking import registry
from bridge.booking.source import Source, SourceApiError
from bridge.services import Services
from bridge.store import catalog as cached
from config.tenants import Tenant
from jobs.booking_sync import refresh_catalog
from pipelines.catalog import CategoryMatch, Listing, match_category, with_category
from pipelines.events import ServiceLine, VisitEvent
from pipelines.policy import Policy

log = logging.getLogger(__name__)

MISS_REFETCH_AFTER = timedelta(minutes=1)  # a service the branch's cached catalog does not list
REFETCH_AFTER = timedelta(minutes=10)  # a service YCLIENTS itself leaves uncategorised is not refetched per event
_UNRESOLVED = ("by category name", "no match")  # what the catalog could still improve on


def resolve_categories(svc: Services, tenant: Tenant, event: VisitEvent, now: datetime) -> VisitEvent:
    """The event with every service line's category (and the booking system's category id) filled in."""
    lines = tuple(line for line, _ in match_services(svc, tenant, event, now))
    return dataclasses.replace(event, booking=dataclasses.replace(event.booking, services=lines))


def match_services(
    svc: Services, tenant: Tenant, event: VisitEvent, now: datetime
) -> list[tuple[ServiceLine, CategoryMatch]]:
    """Each service line with its category filled in, and how it was found (shown by dry runs)."""
    policy = svc.policy(tenant.slug)
    listings = _listings(svc, tenant, event, policy, now)
    matched = []
    for line in event.booking.services:
        match = match_category(line, policy, listings.get(line.external_id))
        matched.append((with_category(line, match), match))
    return matched


def needs_catalog(svc: Services, tenant: Tenant, event: VisitEvent) -> bool:
    """Whether resolving the event's categories reads the branch's catalog (the store, perhaps the booking
    system): some line is categorised neither by the tenant file nor by the event, and its source has one."""
    return bool(_wanted(svc.policy(tenant.slug), event))


def _wanted(policy: Policy, event: VisitEvent) -> list[str]:
    """The service ids to look up in the branch's catalog (none when the source keeps no catalog)."""
    source, branch = registry.get(event.source), event.booking.branch
    if source is None or source.catalog is None or not branch:
        return []
    return [line.external_id for line in event.booking.services if match_category(line, policy).rule in _UNRESOLVED]


def _listings(svc: Services, tenant: Tenant, event: VisitEvent, policy: Policy, now: datetime) -> dict[str, Listing]:
    """The branch's catalog entries of the lines neither the tenant file nor the event categorise."""
    wanted = _wanted(policy, event)
    if not wanted:
        return {}
    source, branch = registry.get(event.source), event.booking.branch
    found = cached.listings(svc.store, tenant.slug, source.name, branch, wanted)
    missing = [sid for sid in wanted if sid not in found]
    uncategorised = [sid for sid, entry in found.items() if not (entry.category or entry.category_id)]
    age_limit = MISS_REFETCH_AFTER if missing else REFETCH_AFTER if uncategorised else None
    if age_limit is not None and _refetch(svc, tenant, source, branch, now, age_limit):
        found = cached.listings(svc.store, tenant.slug, source.name, branch, wanted)
    return found


def _refetch(svc: Services, tenant: Tenant, source: Source, branch: str, now: datetime, age_limit: timedelta) -> bool:
    lookup = source.catalog(tenant) if source.catalog else None
    if lookup is None:
        return False
    try:
        return refresh_catalog(svc, tenant, source, lookup, branch, now, only_if_older=age_limit) > 0
    except SourceApiError as exc:  # categories stay unknown; the rules skip what needs them, with a reason
        log.warning("%s service catalog of %s, branch %s unavailable: %s", source.title, tenant.slug, branch, exc)
        return False
    finally:
        lookup.close()
