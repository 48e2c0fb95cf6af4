"""Tenant files for a process: read with the names only the registries and the domain know, checked
where ``config`` alone cannot (template texts, the service catalog), and turned into each tenant's Policy.

``Services.build`` (the start of every process) and ``salonbridge check`` go through the same
``examine``, so a bad value stops a process at start-up with the very ``FILE: FIELD: MESSAGE`` that
``check`` prints, and never surfaces inside a job. ``check`` adds what a process can start without:
environment variables the files name and amoCRM credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bridge.booking.registry import SOURCES
from bridge.messaging.registry import settings_schemas
from bridge.messaging.template_check import check_templates
from config.prepayment import prepayment_env_problems, prepayment_problems
from config.tenants import (
    ConfigProblem,
    Tenant,
    TenantFileError,
    credential_problems,
    read_yaml,
    tenant_files,
    tenant_problems,
    unset_secrets,
)
from config.vocabulary import Vocabulary
from pipelines.catalog import CatalogOverrides, ServiceRule, canonical_category, check_catalog
from pipelines.policy import DEFAULT_TRIGGERS, TRIGGERS, Policy
from pipelines.segments import SegmentError, parse_segment
from pipelines.stages import LOST, PREPAYMENT, STAGES, WON, Pipeline


def vocabulary() -> Vocabulary:
    """Every name a tenant file may use, from the source and channel registries and the playbook."""
    return Vocabulary(
        sources=tuple(SOURCES),
        channels=settings_schemas(),
        triggers=TRIGGERS,
        stages={p.value: STAGES[p] for p in Pipeline},
        sales_open_stages=tuple(s for s in STAGES[Pipeline.SALES] if s not in (WON, LOST, PREPAYMENT)),
    )


@dataclass
class Findings:
    """What examining tenant files found: the good tenants, the problems, and notes that are not wrong."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)
    notes: list[ConfigProblem] = field(default_factory=list)
    files: int = 0


def examine_document(
    raw: Mapping[str, Any], path: Path, environ: Mapping[str, str], *, operational: bool = False,
    require_env: bool = True,
) -> Findings:
    """One parsed tenant file. ``operational`` adds what ``check`` reports beyond start-up: missing amoCRM
    credentials and (with ``require_env``) environment variables the file names but the process lacks."""
    found = Findings(files=1)
    tenant, problems = tenant_problems(raw, vocabulary())
    rules = raw.get("rules")
    templates = rules.get("templates") if isinstance(rules, Mapping) else None
    if isinstance(templates, Mapping):
        problems += check_templates(templates)
    if tenant is not None and tenant.slug != path.stem:
        problems.append(("slug", f"must match the file name {path.stem!r}"))
    notes: list[tuple[str, str]] = []
    if tenant is not None:
        catalog_problems, notes = check_catalog(tenant.catalog.categories, _service_rules(tenant), tenant.language)
        problems += catalog_problems + prepayment_problems(tenant.prepayment, tenant.currency)
        problems += segment_problems(tenant.clients.segments)
    if operational:
        if require_env:
            problems += unset_secrets(raw, environ)
            problems += prepayment_env_problems(tenant.prepayment, environ) if tenant is not None else []
        problems += credential_problems(tenant) if tenant is not None else []
    problems = list(dict.fromkeys(problems))  # a secret both walks find is said once
    found.problems = [ConfigProblem(path, f, m) for f, m in problems]
    found.notes = [ConfigProblem(path, f, m, note=True) for f, m in notes]
    if tenant is not None and not problems:
        found.tenants[tenant.slug] = replace(tenant, path=path, environ=environ)
    return found


def segment_problems(segments: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str]]:
    """Saved segments whose filters the command line or the API would refuse (reversed ranges...)."""
    problems = []
    for name, filters in segments.items():
        try:
            parse_segment(filters)
        except SegmentError as exc:
            problems.append((f"clients.segments.{name}.{exc.name}", str(exc).split(": ", 1)[1]))
    return problems


def examine(
    directory: Path, environ: Mapping[str, str], *, operational: bool = False, require_env: bool = True
) -> Findings:
    """Every tenant file of a folder (``*.yaml`` not starting with ``_``)."""
    found = Findings()
    for path in tenant_files(directory):
        try:
            one = examine_document(read_yaml(path), path, environ, operational=operational, require_env=require_env)
        except TenantFileError as exc:
            one = Findings(problems=exc.problems, files=1)
        found.tenants.update(one.tenants)
        found.problems += one.problems
        found.notes += one.notes
        found.files += one.files
    return found


def load_tenants(directory: Path, environ: Mapping[str, str]) -> dict[str, Tenant]:
    """Every tenant of a folder for a starting process; raises TenantFileError listing every problem.

    A missing folder means no tenants (a fresh install): the callers say so.
    """
    if not directory.is_dir():
        return {}
    found = examine(directory, environ)
    if found.problems:
        raise TenantFileError(found.problems)
    return found.tenants


def load_tenant_file(path: Path, environ: Mapping[str, str] | None = None) -> Tenant:
    """One tenant file as a starting process loads it; raises TenantFileError listing every problem."""
    found = examine_document(read_yaml(path), path, environ or {})
    if found.problems:
        raise TenantFileError(found.problems)
    return next(iter(found.tenants.values()))


def policy_of(tenant: Tenant) -> Policy:
    """The tenant's Policy from its checked file: the file's values over the Policy's defaults."""
    rules = tenant.rules
    settings = dict(rules.settings)
    triggers = set(DEFAULT_TRIGGERS)
    for name, on in rules.triggers.items():
        (triggers.add if on else triggers.discard)(name)
    return Policy(
        tenant=tenant.slug,
        timezone=tenant.timezone,
        working_hour=tenant.working_hour,
        language=settings.pop("language", tenant.language),
        catalog=CatalogOverrides.build(tenant.catalog.categories, _service_rules(tenant)),
        triggers=frozenset(triggers),
        lost_after_by_category={canonical_category(k) or k: v for k, v in rules.lost_after_by_category.items()},
        stage_names={Pipeline(p): dict(names) for p, names in rules.stage_names.items()},
        salon_name=tenant.name,
        branch_names={b.id: b.name for b in tenant.branches},
        currency=tenant.currency,
        prepayment=tenant.prepayment,
        reconnect=tenant.reconnect,
        history_grace_days=tenant.clients.history_grace_days,
        birthday_hour=tenant.clients.birthday_hour,
        birthday_offer=tenant.clients.birthday_offer,
        **settings,
    )


def _service_rules(tenant: Tenant) -> dict[str, ServiceRule]:
    return {
        key: ServiceRule(o.category, o.periodicity_days, o.counts_for, o.no_repeat)
        for key, o in tenant.catalog.services.items()
    }
