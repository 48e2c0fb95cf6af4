"""``sync_crm(tenant)``: drain the tenant's pending amoCRM actions within its rate limit.

Faults are handled per kind: amoCRM's account block pauses the tenant (alert, resume later), a lost
authorization pauses it until someone reconnects, transient errors leave the actions pending for the
job's retry, and a payload amoCRM rejects fails that one action with amoCRM's reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bridge.amocrm.errors import AccountBlocked, AmoError, ReauthRequired
from bridge.services import Services
from bridge.store.models import AppliedAction, TenantState
from bridge.store.playbook import CRM_KINDS
from config.tenants import Tenant
from jobs import context
from jobs.crm_apply import Applier, Item, Outcome, SetupOutdated

log = logging.getLogger(__name__)
WINDOW = 500
MAX_ROUNDS = 50
REAUTH_PAUSE = timedelta(minutes=15)


class TenantPaused(Exception):
    """amoCRM work of this tenant is paused (block or lost authorization); the clock resumes it."""


@dataclass
class SyncReport:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    paused: str | None = None


def sync_crm(tenant_slug: str) -> str:
    """RQ entry point."""
    svc = context.current()
    report = drain(svc, svc.tenants[tenant_slug], datetime.now(UTC))
    return report.paused or f"done={report.done} failed={report.failed} waiting={report.waiting}"


def drain(svc: Services, tenant: Tenant, now: datetime, client=None, account=None) -> SyncReport:
    """Apply pending actions round after round until nothing more can go (or the tenant is paused)."""
    from bridge.amocrm.account_map import load_account_map
    from bridge.amocrm.connect import client_for

    report = SyncReport()
    reason = paused_reason(svc, tenant.slug, now)
    if reason:
        report.paused = reason
        return report
    account = account or load_account_map(svc.store, tenant.slug)
    if account is None:
        return _pause(svc, tenant.slug, now, timedelta(minutes=5), report,
                      "amoCRM is not set up for this tenant: run `salonbridge setup " + tenant.slug + "`")
    try:
        client = client or client_for(tenant, svc)
        for _ in range(MAX_ROUNDS):
            items = pending(svc, tenant.slug)
            if not items:
                break
            outcome = Applier(svc.store, tenant.slug, client, account, now).run(items)
            _record(svc, outcome, now, report)
            if not (outcome.done or outcome.failed or outcome.skipped):
                break  # the rest waits on something that did not happen this round
    except AccountBlocked as exc:
        return _pause(svc, tenant.slug, now, exc.until - now, report, str(exc))
    except SetupOutdated as exc:
        return _pause(svc, tenant.slug, now, timedelta(minutes=5), report,
                      f"{exc} (salonbridge setup {tenant.slug} recreates what is missing)")
    except ReauthRequired as exc:
        return _pause(svc, tenant.slug, now, REAUTH_PAUSE, report, str(exc))
    except AmoError:
        report.waiting = len(pending(svc, tenant.slug))
        raise  # transient: RQ retries with backoff; nothing applied is lost, nothing is sent twice
    report.waiting = len(pending(svc, tenant.slug))
    return report


def pending(svc: Services, tenant: str, limit: int = WINDOW) -> list[Item]:
    with svc.store.session() as s:
        rows = s.scalars(
            select(AppliedAction)
            .where(AppliedAction.tenant == tenant, AppliedAction.state == "pending",
                   AppliedAction.kind.in_(CRM_KINDS))
            .order_by(AppliedAction.id)
            .limit(limit)
        )
        return [Item(r.id, r.kind, r.key, dict(r.payload), r.attempts) for r in rows]


def tenants_with_pending(svc: Services) -> list[str]:
    with svc.store.session() as s:
        return list(s.scalars(
            select(AppliedAction.tenant).where(AppliedAction.state == "pending", AppliedAction.kind.in_(CRM_KINDS))
            .group_by(AppliedAction.tenant).having(func.count() > 0)
        ))


def _record(svc: Services, outcome: Outcome, now: datetime, report: SyncReport) -> None:
    with svc.store.session() as s:
        for state, results in (("done", outcome.done), ("failed", outcome.failed), ("skipped", outcome.skipped)):
            for action_id, detail in results.items():
                row = s.get(AppliedAction, action_id)
                row.state, row.applied_at = state, now
                if state == "done":
                    row.result = detail
                else:
                    row.error = str(detail)[:2000]
                    log.warning("amoCRM action %s %s: %s", row.key, state, row.error)
    report.done += len(outcome.done)
    report.failed += len(outcome.failed)
    report.skipped += len(outcome.skipped)


def paused_reason(svc: Services, tenant: str, now: datetime) -> str | None:
    with svc.store.session() as s:
        state = s.get(TenantState, tenant)
        if state and state.amocrm_paused_until and state.amocrm_paused_until > now:
            return f"paused until {state.amocrm_paused_until.isoformat()}: {state.amocrm_pause_reason}"
    return None


def _pause(svc: Services, tenant: str, now: datetime, length: timedelta, report: SyncReport, reason: str) -> SyncReport:
    log.error("amoCRM work of %s paused for %s: %s", tenant, length, reason)
    with svc.store.session() as s:
        state = s.get(TenantState, tenant) or TenantState(slug=tenant)
        state.amocrm_paused_until, state.amocrm_pause_reason = now + length, reason
        s.merge(state)
    report.paused = reason
    report.waiting = len(pending(svc, tenant))
    return report
