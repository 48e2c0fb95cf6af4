"""``salonbridge check``: every problem in every tenant file, with file and field path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from bridge.readiness import amocrm_problems
from bridge.services import Services
from bridge.tenancy import Findings, examine
from config.tenants import EXAMPLE, ConfigProblem


def check_tenants(directory: Path, environ: Mapping[str, str], *, require_env: bool = True) -> Findings:
    """What a starting process would refuse, plus what it would start without but cannot work without:
    unset environment variables (unless ``require_env`` is off) and missing amoCRM credentials."""
    if not directory.is_dir():
        return Findings(problems=[ConfigProblem(directory, "(folder)", "no such folder")])
    return examine(directory, environ, operational=True, require_env=require_env)


def no_tenants_hint(directory: Path) -> str:
    """What to say where there is not a single tenant file yet (a fresh install)."""
    return (f"no tenants yet: no tenant files in {directory}. Copy {EXAMPLE} there as <slug>.yaml (the file "
            "name is the salon's slug), fill it in, then run `salonbridge check`")


def check_online(svc: Services) -> list[ConfigProblem]:
    """Each tenant's amoCRM as the workers will meet it: reachable with valid credentials, provisioned
    by ``setup`` (and not changed by hand since), and not paused by a block or a lost authorization."""
    now = datetime.now(UTC)
    return [problem for tenant in svc.tenants.values() for problem in amocrm_problems(tenant, svc, now)]
