"""How far catch-up polling of each tenant's booking system has got (``tenant_state.booking_watermark``)."""

from __future__ import annotations

from datetime import datetime

from bridge.store.db import Store
from bridge.store.models import TenantState


def booking_watermark(store: Store, tenant: str) -> datetime | None:
    """When the tenant's booking system was last polled successfully (None: never)."""
    with store.session() as s:
        state = s.get(TenantState, tenant)
        return state.booking_watermark if state else None


def set_booking_watermark(store: Store, tenant: str, at: datetime) -> None:
    with store.session() as s:
        state = s.get(TenantState, tenant) or TenantState(slug=tenant)
        state.booking_watermark = at
        s.merge(state)
