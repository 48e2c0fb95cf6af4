"""Reconnect's predicted-time mode (seed 004, optional): the first message by itself, shortly before a
client would become at risk.

Off unless the tenant file says ``reconnect.predicted_time.enabled: true``. Once an hour the clock queues
one job per such tenant; the job runs the Reconnect scan, picks the clients who become at risk within
``predicted_time.lead_days`` and contacts them exactly as ``salonbridge reconnect send --all`` would
(``bridge.campaigns``: same message, note, lead/task, follow-up; never twice for one lateness). Without
it, the first message goes only on an operator's command.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bridge.campaigns import preview, send
from bridge.services import Services
from jobs import context

log = logging.getLogger(__name__)


def enqueue_predicted(svc: Services, now: datetime) -> int:
    """Clock task: queue the predicted-time run of every tenant that has it on."""
    return sum(svc.queue.enqueue_reconnect_predicted(t.slug, now) for t in svc.tenants.values()
               if t.reconnect.predicted_time.enabled)


def predicted_campaign(tenant_slug: str) -> int:
    """RQ entry point."""
    return run_predicted(context.current(), tenant_slug, datetime.now(UTC))


def run_predicted(svc: Services, tenant_slug: str, now: datetime) -> int:
    """Contact the tenant's clients about to become at risk; returns how many were contacted."""
    tenant = svc.tenants.get(tenant_slug)
    if tenant is None or not tenant.reconnect.predicted_time.enabled:
        return 0
    campaign = preview(svc.store, tenant, now, category=None, predicted=True)
    if not campaign.recipients:
        return 0
    result = send(svc.store, campaign, svc.policy(tenant.slug), now, prefix="rc-predicted")
    log.info("reconnect predicted-time run of %s: %d client(s) contacted", tenant.slug, result.contacted)
    return result.contacted
