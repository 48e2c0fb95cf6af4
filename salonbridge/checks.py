"""``salonbridge check``: every problem in every tenant file, with file and field path."""

from __future__ import annotations

from pathlib import Path

from config.tenants import ConfigProblem, TenantFileError, check_environment, load_tenant_file, tenant_files


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
        if require_env:
            problems.extend(check_environment(tenant))
    if not files:
        problems.append(ConfigProblem(directory, "(folder)", "no tenant files (*.yaml)"))
    return problems, len(files)
