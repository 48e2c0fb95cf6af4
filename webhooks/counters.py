"""Intake counters (``bridge.telemetry``, in Redis), per tenant: every gunicorn worker adds to the same totals.

A path naming no configured tenant is counted under ``tenant="unknown"``, so a scanner cannot create a
label value per guess.
"""

from __future__ import annotations

from bridge import telemetry
from bridge.queue import JobQueue
from webhooks.context import current_services


def _tenant(slug: str | None) -> str:
    return slug if slug and slug in current_services().tenants else "unknown"


def received(queue: JobQueue, tenant: str) -> None:
    telemetry.count(queue.connection, telemetry.EVENTS_RECEIVED, {"tenant": _tenant(tenant)})


def duplicate(queue: JobQueue, tenant: str) -> None:
    telemetry.count(queue.connection, telemetry.EVENTS_DUPLICATE, {"tenant": _tenant(tenant)})


def rejected(queue: JobQueue, status: int, tenant: str | None) -> None:
    telemetry.count(queue.connection, telemetry.EVENTS_REJECTED, {"tenant": _tenant(tenant), "status": str(status)})
