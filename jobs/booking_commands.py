"""Prepayment news for the salon's booking system, where its API allows: a paid prepayment becomes a line in
the visit's comment (with the receipt number), an expired one cancels the visit so the slot is free.

The clock queues one job per tenant with pending commands (``booking-commands``, fixed job id); the job
uses the source's writer (``bridge/booking/registry.py``: YCLIENTS has one) built from the tenant's
credentials. No writer (a generic source, no API tokens) or a refusal (4xx: YCLIENTS will not edit a
record that is paid, arrived or past its edit window) closes the command and records its staff task
instead (for a cancellation: free the slot by hand). Trouble that passes (no answer, 429, 5xx) is tried
again on the next tick, ``MAX_ATTEMPTS`` times in all.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bridge.booking.registry import SOURCES
from bridge.booking.source import BookingWriter, SourceApiError
from bridge.services import Services
from bridge.store import booking_queue
from config.tenants import Tenant
from jobs import context
from pipelines.actions import BookingCommand

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def enqueue_booking_commands(svc: Services, now: datetime) -> int:
    """Clock task: a job for every tenant with something to tell its booking system."""
    return sum(bool(svc.queue.enqueue_booking_commands(tenant))
               for tenant in booking_queue.backlog(svc.store) if tenant in svc.tenants)


def run_pending(tenant_slug: str) -> int:
    """RQ entry point."""
    return run(context.current(), tenant_slug, datetime.now(UTC))


def _writer(tenant: Tenant) -> BookingWriter | None:
    source = SOURCES.get(tenant.booking.kind)
    return source.writer(tenant) if source is not None and source.writer is not None else None


def run(svc: Services, tenant_slug: str, now: datetime) -> int:
    """Carry out the tenant's pending commands; returns how many the booking system took."""
    tenant = svc.tenants.get(tenant_slug)
    commands = booking_queue.pending(svc.store, tenant_slug) if tenant is not None else []
    if not commands:
        return 0
    assert tenant is not None
    writer = _writer(tenant)
    taken = 0
    try:
        for command in commands:
            action = command.action
            if writer is None or not action.branch:
                reason = (f"{tenant.booking.kind} bookings cannot be changed through an API here (no writer or "
                          "no API credentials)") if writer is None else "the booking's branch is unknown"
                booking_queue.give_up(svc.store, tenant_slug, command, "skipped", reason, now)
                continue
            try:
                if action.command is BookingCommand.CANCEL:
                    writer.cancel(action.branch, action.booking_id)
                else:
                    writer.add_comment(action.branch, action.booking_id, action.text)
            except SourceApiError as exc:
                if getattr(exc, "retryable", True) and command.attempts + 1 < MAX_ATTEMPTS:
                    booking_queue.retry_later(svc.store, command, str(exc))
                    log.warning("booking %s of %s: %s not done yet, tried again later: %s", action.booking_id,
                                tenant_slug, action.command.value, exc)
                    break  # the booking system is in trouble: the rest waits for the next tick
                booking_queue.give_up(svc.store, tenant_slug, command, "failed", str(exc), now)
                log.warning("booking %s of %s: %s refused, staff asked to do it by hand: %s", action.booking_id,
                            tenant_slug, action.command.value, exc)
                continue
            booking_queue.done(svc.store, command, now)
            taken += 1
            log.info("booking %s of %s: %s done in %s", action.booking_id, tenant_slug, action.command.value,
                     tenant.booking.kind)
    finally:
        if writer is not None:
            writer.close()
    return taken
