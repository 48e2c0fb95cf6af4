"""The clock's time-based playbook: reminders before due dates, overdue → Lost clients, win-back steps.

The clock only finds whose wake-up has come (``bridge.store.wakeups``, one indexed query) and hands them
to the workers in batches; a worker evaluates each client under its row lock: ``pipelines.due`` plans,
the fresh actions are recorded, and the client's next wake-up is stored in the same transaction
(``pipelines.wakeup``). Driven from the store, not from RQ's scheduled jobs, so nothing time-based is
lost with Redis; each step's idempotency key makes a repeated evaluation a no-op.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bridge.services import Services
from bridge.store import actions, playbook, visits, wakeups
from jobs import context
from pipelines.planner import due
from pipelines.wakeup import next_wakeup

log = logging.getLogger(__name__)
BATCH = 100  # clients per job
TAKE = 5_000  # clients taken per tick at most; the rest are taken on the next ticks
LEASE = timedelta(minutes=10)  # a client handed to a job is not handed out again before this


def enqueue_due(svc: Services, now: datetime) -> int:
    """Clock task: hand every client whose wake-up has come to the workers, in batches; returns how many."""
    taken = wakeups.take_due(svc.store, now, LEASE, TAKE)
    for tenant, ids in _by_tenant(taken).items():
        for start in range(0, len(ids), BATCH):
            svc.queue.enqueue_due(tenant, ids[start:start + BATCH], now)
    return len(taken)


def _by_tenant(taken: Sequence[wakeups.Due]) -> dict[str, list[int]]:
    per_tenant: dict[str, list[int]] = defaultdict(list)
    for item in taken:
        per_tenant[item.tenant].append(item.client_id)
    return per_tenant


def evaluate_clients(tenant_slug: str, client_ids: list[int]) -> int:
    """RQ entry point: evaluate a batch of clients of one tenant; returns how many actions were recorded."""
    svc = context.current()
    return evaluate(svc, tenant_slug, client_ids, datetime.now(UTC))


def evaluate(svc: Services, tenant_slug: str, client_ids: Sequence[int], now: datetime) -> int:
    tenant = svc.tenants.get(tenant_slug)
    if tenant is None:
        log.warning("due clients of unknown tenant %s dropped", tenant_slug)
        return 0
    policy = svc.policy(tenant.slug)
    total = 0
    for client_id in client_ids:
        with svc.store.session() as s:
            client = visits.lock_client(s, tenant_slug, client_id)
            if client is None:
                continue
            snapshot = playbook.snapshot_for(s, client, None)
            recorded = actions.record(s, tenant_slug, None, client_id, due(snapshot, policy, now), now)
            # Something happened: look again on the next tick, from the state it left. Otherwise the rules
            # cannot act before the next instant they compare ``now`` with.
            wake = now if recorded.fresh else next_wakeup(snapshot, policy, now)
            wakeups.set_wakeup(s, client_id, wake)
        total += len(recorded.fresh)
    return total


def run_due(svc: Services, now: datetime) -> int:
    """Evaluate every due client in this process until none is due (demo, tests, one-off runs)."""
    total = 0
    while True:
        taken = wakeups.take_due(svc.store, now, LEASE, TAKE)
        if not taken:
            return total
        for tenant, ids in _by_tenant(taken).items():
            total += evaluate(svc, tenant, ids, now)
