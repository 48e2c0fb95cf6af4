"""``sync_crm(tenant)``: drain the tenant's pending amoCRM actions within its rate limit.

Faults are handled per kind: amoCRM's account block pauses the tenant (alert, resume later), a lost
authorization pauses it until someone reconnects, a payload amoCRM rejects fails that one action with
amoCRM's reason, and transient trouble (5xx, timeouts, 429 bursts) is waited out inside the job, each
request within a time budget; when the budget runs out the job ends with the rest still pending and
the clock queues the next sync a few seconds later. Nothing is left to RQ's retry schedule.

A job also stops starting requests after ``RUN_FOR_S``, well inside RQ's job timeout: a job killed by
its runner mid-round would leave creates recorded as attempted but never sent, each of which the next
round has to look up again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bridge.amocrm.account_map import AccountMapError, load_account_map
from bridge.amocrm.errors import AccountBlocked, AmoError, OutOfTime, ReauthRequired
from bridge.queue import JOB_TIMEOUT_S
from bridge.services import Services
from bridge.store import crm_queue
from config.tenants import Tenant
from jobs import context
from jobs.executor import SetupOutdated, Sync, apply_window
from jobs.executor.sync import Tally

log = logging.getLogger(__name__)
WINDOW = 500
MAX_ROUNDS = 50
REAUTH_PAUSE = timedelta(minutes=15)
SETUP_PAUSE = timedelta(minutes=5)
# How the sync's client waits out trouble: each request may retry (429 Retry-After, 5xx, timeouts on
# reads and updates) for up to this long before the job gives the rest back to the next sync.
PATIENCE = {"max_retries": 100, "retry_for_s": 90.0, "max_sleep_s": 30.0}
# Past this no request is started; the longest request (connect + read timeout, ~23 s) still ends in time.
RUN_FOR_S = JOB_TIMEOUT_S - 40


@dataclass
class SyncReport:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    paused: str | None = None
    interrupted: str | None = None


def sync_crm(tenant_slug: str) -> str:
    """RQ entry point."""
    svc = context.current()
    report = drain(svc, svc.tenants[tenant_slug], datetime.now(UTC))
    return report.paused or f"done={report.done} failed={report.failed} waiting={report.waiting}"


def drain(svc: Services, tenant: Tenant, now: datetime, client=None, account=None) -> SyncReport:
    """Apply pending actions round after round until nothing more can go (or the tenant is paused)."""
    from bridge.amocrm.connect import client_for

    report = SyncReport(paused=paused_reason(svc, tenant.slug, now))
    if report.paused:
        return report
    account = account or load_account_map(svc.store, tenant.slug)
    if account is None:
        _pause(svc, tenant.slug, now, SETUP_PAUSE, report,
               "amoCRM is not set up for this tenant: run `salonbridge setup " + tenant.slug + "`")
        return report
    tally = Tally()
    try:
        client = client or client_for(tenant, svc, **PATIENCE)
        client.deadline = time.monotonic() + RUN_FOR_S
        _rounds(Sync(svc.store, tenant.slug, client, account, now, tally))
    except OutOfTime:
        log.info("amoCRM sync of %s used its time; the next sync takes the rest", tenant.slug)
        report.interrupted = "out of time"
    except AccountBlocked as exc:
        _pause(svc, tenant.slug, now, exc.until - now, report, str(exc))
    except (SetupOutdated, AccountMapError) as exc:
        _pause(svc, tenant.slug, now, SETUP_PAUSE, report,
               f"{exc} (salonbridge setup {tenant.slug} recreates what is missing)")
    except ReauthRequired as exc:
        _pause(svc, tenant.slug, now, REAUTH_PAUSE, report, str(exc))
    except AmoError as exc:  # transient past the budget: what succeeded is recorded, the rest waits
        log.warning("amoCRM sync of %s interrupted, the rest waits for the next sync: %s", tenant.slug, exc)
        report.interrupted = str(exc)
    finally:
        if client is not None:
            client.deadline = None
    report.done, report.failed, report.skipped = tally.done, tally.failed, tally.skipped
    report.waiting = crm_queue.pending_count(svc.store, tenant.slug)
    return report


def _rounds(sync: Sync) -> None:
    for _ in range(MAX_ROUNDS):
        items = crm_queue.pending(sync.store, sync.tenant, WINDOW)
        before = sync.tally.progressed
        if items:
            apply_window(sync, items)
        if not items or sync.tally.progressed == before:
            return  # done, or the rest waits on something that did not happen this round


def pending(svc: Services, tenant: str, limit: int = WINDOW) -> list:
    """The tenant's pending amoCRM actions (oldest first)."""
    return crm_queue.pending(svc.store, tenant, limit)


def paused_reason(svc: Services, tenant: str, now: datetime) -> str | None:
    pause = crm_queue.paused(svc.store, tenant, now)
    return f"paused until {pause[0].isoformat()}: {pause[1]}" if pause else None


def _pause(svc: Services, tenant: str, now: datetime, length: timedelta, report: SyncReport, reason: str) -> None:
    log.error("amoCRM work of %s paused for %s: %s", tenant, length, reason)
    crm_queue.pause(svc.store, tenant, now + length, reason)
    report.paused = reason
