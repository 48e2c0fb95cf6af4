"""The clock's time-based playbook: reminders before due dates, overdue → Lost clients, win-back steps.

Driven from the store on every tick (not from RQ's scheduled jobs), so nothing time-based is lost with
Redis, and each step's idempotency key makes a repeated tick a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from bridge.services import Services
from bridge.store import playbook
from bridge.store.models import Client, CycleRow, LostStepRow
from jobs.policy import policy_for
from jobs.process_event import record_actions
from pipelines.planner import due

log = logging.getLogger(__name__)


def run_due(svc: Services, now: datetime) -> int:
    """Plan and record the due actions of every client with something pending; returns how many."""
    total = 0
    for tenant in svc.tenants.values():
        policy = policy_for(tenant)
        crm_work = False
        for client_id in _clients_with_open_work(svc, tenant.slug):
            with svc.store.session() as s:
                client = s.get(Client, client_id)
                actions = due(playbook.snapshot_for(s, client, None), policy, now)
                fresh, crm = record_actions(s, tenant.slug, None, client_id, actions, now)
            total += fresh
            crm_work = crm_work or crm
        if crm_work:
            svc.queue.enqueue_crm_sync(tenant.slug)
    return total


def _clients_with_open_work(svc: Services, tenant: str) -> list[int]:
    with svc.store.session() as s:
        cycles = select(CycleRow.client_id).where(CycleRow.tenant == tenant, CycleRow.closed_at.is_(None))
        lost = select(LostStepRow.client_id).where(LostStepRow.tenant == tenant)
        return sorted(set(s.scalars(cycles)) | set(s.scalars(lost)))
