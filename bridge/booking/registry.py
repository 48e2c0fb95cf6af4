"""Every booking source salonbridge accepts, declared once.

The web hook, intake, catch-up polling, the catalog lookup and the tenant file's ``booking.source``
all read this table; adding a source is one module declaring a ``Source`` plus one line here
(docs/extending.md walks through it).
"""

from __future__ import annotations

from bridge.booking.generic import GENERIC
from bridge.booking.source import Source
from bridge.booking.yclients import YCLIENTS

SOURCES: dict[str, Source] = {source.name: source for source in (YCLIENTS, GENERIC)}


def get(name: str) -> Source | None:
    return SOURCES.get(name)


def accepts(tenant_source: str, name: str) -> bool:
    """Whether a tenant whose file says ``booking.source: tenant_source`` takes hooks from source ``name``."""
    source = SOURCES.get(name)
    return source is not None and (source.name == tenant_source or source.for_every_tenant)
