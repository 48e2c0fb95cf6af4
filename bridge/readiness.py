"""A tenant's amoCRM as the workers will meet it: connected, provisioned by ``setup``, not paused.

Shared by ``salonbridge check --online`` and the dashboard (which skips the network probe so a page
never waits on amoCRM)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import connection_status
from bridge.services import Services
from bridge.store import crm_queue
from config.tenants import ConfigProblem, Tenant


def amocrm_problems(tenant: Tenant, svc: Services, now: datetime, *, probe: bool = True) -> list[ConfigProblem]:
    path = tenant.path or Path(f"{tenant.slug}.yaml")
    status = connection_status(tenant, svc, probe=probe)
    if status.state != "connected":
        hint = f"run `salonbridge amocrm connect {tenant.slug}`" if status.state != "error" else ""
        return [ConfigProblem(path, "amocrm", f"{status.state}: {status.problem or hint}".rstrip(": "))]
    problems = []
    account = load_account_map(svc.store, tenant.slug)
    if account is None or not account.is_complete():
        problems.append(ConfigProblem(path, "amocrm", f"not set up: run `salonbridge setup {tenant.slug}`"))
    pause = crm_queue.paused(svc.store, tenant.slug, now)
    if pause:
        problems.append(ConfigProblem(path, "amocrm", f"work paused until {pause[0].isoformat()}: {pause[1]}"))
    return problems
