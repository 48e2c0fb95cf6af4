"""Prepayment deadlines: a booking not paid in time is expired, after asking the provider once more.

The clock finds attempts past their deadline through ``ix_prepayments_due`` and queues them per
tenant; the job asks the provider for the order's status (outside any transaction), then applies the
pure ``on_deadline`` to the locked row: a payment that went through is applied as paid, one still in
progress is asked about again a little later, anything else expires — and the change's effects (the
lead's field, the client's message, a task to free the slot) are recorded in the same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from bridge.payments import NotConfigured, ProviderError, provider_for
from bridge.payments.effects import record_change
from bridge.services import Services
from bridge.store import prepayments as repo
from config.tenants import Tenant
from jobs import context
from pipelines.prepayment import Effect, PaymentReport, on_deadline

log = logging.getLogger(__name__)
RECHECK_EVERY = timedelta(minutes=5)
BATCH = 100


def enqueue_deadlines(svc: Services, now: datetime) -> int:
    """Clock task: queue the attempts past their deadline, one job per tenant and batch."""
    with svc.store.session() as s:
        due = [(row.tenant, row.id) for row in repo.due_for_expiry(s, now, checked_before=now - RECHECK_EVERY)]
    per_tenant: dict[str, list[int]] = defaultdict(list)
    for tenant, row_id in due:
        per_tenant[tenant].append(row_id)
    for tenant, ids in per_tenant.items():
        for start in range(0, len(ids), BATCH):
            svc.queue.enqueue_deadlines(tenant, ids[start:start + BATCH], now)
    return len(due)


def expire_due(tenant_slug: str, prepayment_ids: list[int]) -> int:
    """RQ entry point."""
    return expire(context.current(), tenant_slug, prepayment_ids, datetime.now(UTC))


def expire(svc: Services, tenant_slug: str, prepayment_ids: list[int], now: datetime) -> int:
    """Apply the deadline to each attempt; returns how many changed status."""
    tenant = svc.tenants.get(tenant_slug)
    if tenant is None or tenant.prepayment is None:
        return 0
    changed = 0
    for row_id in prepayment_ids:
        with svc.store.session() as s:
            row = repo.get(s, row_id)
            if row is None or row.tenant != tenant_slug:
                continue
            order_ref, provider_name = row.order_ref, row.provider
        answered, report = _ask(tenant, provider_name, order_ref)
        if not answered:
            continue  # the provider did not answer: the next tick asks again
        with svc.store.session() as s:
            row = repo.find_by_order_ref(s, tenant_slug, order_ref, lock=True)
            change = on_deadline(repo.status_of(row), row.deadline_at, now, report,
                                 expected=repo.expected_amount(row), currency=row.currency)
            if Effect.RECHECK in change.effects:
                row.updated_at = now  # asked again after RECHECK_EVERY
                continue
            repo.apply_change(s, row, change, now, report)
            record_change(s, svc.policy(tenant.slug), row, change, now, "deadline")
        changed += change.changed
        if change.changed:
            log.info("prepayment %s of %s: %s at its deadline", order_ref, tenant_slug, change.new_status.value)
        if Effect.REMOVE_INVOICE in change.effects:
            _close_link(tenant, provider_name, order_ref)
    return changed


def _ask(tenant: Tenant, provider_name: str, order_ref: str) -> tuple[bool, PaymentReport | None]:
    """(answered, the provider's status of the order — None when it does not know the order)."""
    try:
        return True, provider_for(tenant, provider_name).query_status(order_ref)
    except (ProviderError, NotConfigured) as exc:
        log.warning("status of prepayment %s of %s unavailable: %s", order_ref, tenant.slug, exc)
        return False, None


def _close_link(tenant: Tenant, provider_name: str, order_ref: str) -> None:
    try:
        provider_for(tenant, provider_name).cancel(order_ref)
    except (ProviderError, NotConfigured) as exc:  # the deadline is ours anyway; a late payment is held
        log.warning("could not close the link of %s (%s): %s", order_ref, tenant.slug, exc)
