"""The clock: exactly one per install, running the schedule table below on wall-clock intervals.

Time-based work is driven from the store here, not from RQ's scheduled jobs, so nothing scheduled is
lost with Redis.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bridge.queue import JOB_TIMEOUT_S, MAINTENANCE_INTERVAL_S
from bridge.services import Services
from bridge.store import inbox
from jobs.booking_sync import catch_up
from jobs.crm_sync import paused_reason, tenants_with_pending
from jobs.due import run_due
from jobs.messages import send_due

log = logging.getLogger(__name__)
LOCK_KEY = "salonbridge:clock"


@dataclass(frozen=True)
class Scheduled:
    name: str
    every_s: float
    run: Callable[[Services, datetime], object]


def sweep_outbox(svc: Services, now: datetime) -> int:
    """Queue events whose job never made it to Redis, or whose job vanished (Redis flushed)."""
    owed = inbox.owed(
        svc.store,
        older_than=now - timedelta(seconds=svc.settings.sweep_after_s),
        stuck_before=now - timedelta(seconds=JOB_TIMEOUT_S * 6 + MAINTENANCE_INTERVAL_S),
    )
    requeued = [event_id for event_id in owed if svc.queue.enqueue_event(event_id)]
    inbox.mark_requeued(svc.store, owed, now)
    if requeued:
        log.info("sweeper queued %d owed event(s)", len(requeued))
    return len(requeued)


def recover_abandoned(svc: Services, now: datetime) -> None:
    svc.queue.recover_abandoned()


def sync_crm_backlog(svc: Services, now: datetime) -> None:
    """Queue a CRM sync for every tenant with pending amoCRM actions (unique per tenant, so cheap)."""
    for tenant in tenants_with_pending(svc):
        if tenant in svc.tenants and not paused_reason(svc, tenant, now):
            svc.queue.enqueue_crm_sync(tenant)


def schedule() -> list[Scheduled]:
    return [
        Scheduled("sweep-outbox", 2, sweep_outbox),
        Scheduled("recover-abandoned-jobs", MAINTENANCE_INTERVAL_S, recover_abandoned),
        Scheduled("sync-crm-backlog", 5, sync_crm_backlog),
        Scheduled("playbook-due", 60, run_due),
        Scheduled("send-due-messages", 5, send_due),
        Scheduled("booking-catch-up", 30, catch_up),
    ]


def run_clock(svc: Services, stop: threading.Event | None = None, tick_s: float = 0.5) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); a second clock waits while the first holds the lock."""
    stop = stop or _stop_on_signals()
    lock = svc.queue.connection.lock(LOCK_KEY, timeout=30)
    while not stop.is_set() and not lock.acquire(blocking=False):
        log.info("another clock is running; waiting")
        stop.wait(10)
    last_run: dict[str, float] = {}
    try:
        while not stop.is_set():
            lock.extend(30, replace_ttl=True)
            for task in schedule():
                if time.monotonic() - last_run.get(task.name, -1e9) >= task.every_s:
                    last_run[task.name] = time.monotonic()
                    _run_one(svc, task)
            stop.wait(tick_s)
    finally:
        if lock.owned():
            lock.release()


def _run_one(svc: Services, task: Scheduled) -> None:
    try:
        task.run(svc, datetime.now(UTC))
    except Exception:  # one failing task must not stop the others
        log.exception("clock task %s failed", task.name)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
