"""``salonbridge check``: every problem in every tenant file, with file and field path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import connection_status
from bridge.messaging.registry import check_messaging
from bridge.services import Services
from config.prepayment import prepayment_env_problems, prepayment_problems
from config.tenants import ConfigProblem, Tenant, TenantFileError, check_environment, load_tenant_file, tenant_files
from jobs.crm_sync import paused_reason
from jobs.policy import policy_for
from pipelines.policy import PolicyError


def check_tenants(directory: Path, *, require_env: bool = True) -> tuple[list[ConfigProblem], int]:
    if not directory.is_dir():
        return [ConfigProblem(directory, "(folder)", "no such folder")], 0
    files = tenant_files(directory)
    problems: list[ConfigProblem] = []
    for path in files:
        try:
            tenant = load_tenant_file(path)
        except TenantFileError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(_rule_problems(tenant, path))
        if require_env:
            problems.extend(check_environment(tenant))
            problems.extend(ConfigProblem(path, f, m) for f, m in prepayment_env_problems(tenant.prepayment))
    if not files:
        problems.append(ConfigProblem(directory, "(folder)", "no tenant files (*.yaml)"))
    return problems, len(files)


def _rule_problems(tenant: Tenant, path: Path) -> list[ConfigProblem]:
    """The playbook's view of the file: rules, stage names, templates, periodicities."""
    found: list[tuple[str, str]] = []
    try:
        policy_for(tenant)
    except PolicyError as exc:
        found.extend(exc.problems)
    found.extend(check_messaging(tenant))
    found.extend(prepayment_problems(tenant.prepayment, tenant.currency))
    return [ConfigProblem(path, field, message) for field, message in found]


def check_online(svc: Services) -> list[ConfigProblem]:
    """Each tenant's amoCRM as the workers will meet it: reachable with valid credentials, provisioned
    by ``setup`` (and not changed by hand since), and not paused by a block or a lost authorization."""
    problems: list[ConfigProblem] = []
    now = datetime.now(UTC)
    for tenant in svc.tenants.values():
        path = tenant.path or Path(f"{tenant.slug}.yaml")
        status = connection_status(tenant, svc)
        if status.state != "connected":
            hint = f"run `salonbridge amocrm connect {tenant.slug}`" if status.state != "error" else ""
            problems.append(ConfigProblem(path, "amocrm", f"{status.state}: {status.problem or hint}".rstrip(": ")))
            continue
        account = load_account_map(svc.store, tenant.slug)
        if account is None or not account.is_complete():
            problems.append(ConfigProblem(path, "amocrm", f"not set up: run `salonbridge setup {tenant.slug}`"))
        paused = paused_reason(svc, tenant.slug, now)
        if paused:
            problems.append(ConfigProblem(path, "amocrm", f"work {paused}"))
    return problems
