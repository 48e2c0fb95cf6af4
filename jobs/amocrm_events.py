"""Reconcile what people did in amoCRM, so salonbridge never fights a manager.

- A lead a person moved is marked manual: the robot makes no more time-based moves on it, and a
  lead a person closed as lost stays lost.
- A task a person completed marks its cycle "done by person": it is never cancelled or restored.
Our own writes come back as webhooks too; they are recognised because the stored state already
matches them (we record the new state before calling amoCRM).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bridge.amocrm.account_map import load_account_map
from bridge.services import Services
from bridge.store import playbook
from pipelines.snapshot import TaskState

log = logging.getLogger(__name__)
OUR_STATES = (TaskState.OPEN.value, TaskState.RESTORED.value)


def reconcile(svc: Services, payload: dict[str, Any], now: datetime) -> str:
    tenant = payload["tenant"]
    if payload["kind"] == "lead_moved":
        return _lead_moved(svc, tenant, payload, now)
    if payload["kind"] == "task_completed":
        return _task_completed(svc, tenant, payload, now)
    return "ignored"


def _lead_moved(svc: Services, tenant: str, p: dict[str, Any], now: datetime) -> str:
    account = load_account_map(svc.store, tenant)
    where = account.stage_of(p["pipeline_id"], p["status_id"]) if account else None
    with svc.store.session() as s:
        lead = playbook.lead_linked_to(s, tenant, p["lead_id"])
        if lead is None:
            return "not ours"
        if where is not None and (where[0].value, where[1]) == (lead.pipeline, lead.stage):
            return "our own move"
        lead.manual = True
        if where is not None:
            lead.stage = where[1]
            lead.status = where[1] if where[1] in ("won", "lost") else "open"
        lead.updated_at = now
        key = lead.key
    log.info("a person moved lead %s of %s; the robot leaves it alone from now on", key, tenant)
    return "manual"


def _task_completed(svc: Services, tenant: str, p: dict[str, Any], now: datetime) -> str:
    with svc.store.session() as s:
        cycle = playbook.cycle_of_task(s, tenant, p["task_id"])
        if cycle is None:
            return "not ours"
        if cycle.task_state not in OUR_STATES:
            return "already closed by us"
        cycle.task_state, cycle.updated_at = TaskState.DONE_BY_PERSON.value, now
        key = cycle.task_key
    log.info("a person completed task %s of %s; it will never be cancelled or restored", key, tenant)
    return "done by person"
