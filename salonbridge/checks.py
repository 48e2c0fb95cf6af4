"""``salonbridge check``: every problem in every tenant file, with file and field path."""

from __future__ import annotations

from pathlib import Path

from bridge.messaging.registry import check_messaging
from config.tenants import ConfigProblem, Tenant, TenantFileError, check_environment, load_tenant_file, tenant_files
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
    return [ConfigProblem(path, field, message) for field, message in found]
