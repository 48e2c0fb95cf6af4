"""The demo's closing summary: what came in, and what an amoCRM user now sees."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import click
import requests
from sqlalchemy import func, select

from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.services import Services
from bridge.store import stats
from bridge.store.effects import CRM_KINDS
from bridge.store.models import AppliedAction, MessageRow
from pipelines.stages import PIPELINE_NAMES, STAGE_NAMES


def due_messages(svc: Services, tenant: str) -> int:
    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(MessageRow).where(
            MessageRow.tenant == tenant, MessageRow.state.in_(("scheduled", "sending")),
            MessageRow.send_at <= datetime.now(UTC))) or 0


def actions_by_kind_and_state(svc: Services, tenant: str) -> Counter:
    with svc.store.session() as s:
        rows = s.execute(select(AppliedAction.kind, AppliedAction.state, func.count())
                         .where(AppliedAction.tenant == tenant).group_by(AppliedAction.kind, AppliedAction.state))
        return Counter({(kind, state): n for kind, state, n in rows})


def leads_by_stage(svc: Services, tenant: str, language: str) -> dict[str, list[tuple[str, int]]]:
    """Leads in amoCRM itself, per pipeline and stage name, read back through the API.

    Stages come in the funnel's own order, so two runs of the same events print the same lines
    whatever order amoCRM lists the leads in."""
    account = load_account_map(svc.store, tenant)
    counts: Counter = Counter()
    for lead in client_for(svc.tenants[tenant], svc).iterate("/api/v4/leads", "leads"):
        where = account.stage_of(lead["pipeline_id"], lead["status_id"]) if account else None
        if where:
            counts[where] += 1
    return {PIPELINE_NAMES[language][pipeline]: [(name, counts[pipeline, stage]) for stage, name in stages.items()
                                                 if counts[pipeline, stage]]
            for pipeline, stages in STAGE_NAMES[language].items()
            if any(counts[pipeline, stage] for stage in stages)}


def print_summary(svc: Services, tenant: str, posted: Counter, by_status: dict[str, int], amocrm_url: str,
                  elapsed: float) -> int:
    """Print the summary; returns how many things failed (0 for a clean run)."""
    counts = stats.counts(svc.store, tenant)
    actions = actions_by_kind_and_state(svc, tenant)
    language = svc.tenants[tenant].language
    visits = counts["visits"]
    click.echo("\nintake")
    click.echo(f"  events accepted        {posted.get('accepted', 0)}")
    click.echo(f"  duplicates ignored     {posted.get('duplicate', 0)}")
    click.echo(f"  out-of-order dropped   {by_status.get('stale', 0)}")
    click.echo(f"  clients                {counts['clients']}")
    click.echo(f"  visits                 {sum(visits.values())} ("
               + ", ".join(f"{k} {v}" for k, v in sorted(visits.items())) + ")")
    click.echo("amoCRM (read back from the sandbox)")
    for pipeline, stages in leads_by_stage(svc, tenant, language).items():
        click.echo(f"  {pipeline}: " + ", ".join(f"{stage} {n}" for stage, n in stages))
    done = {kind: n for (kind, state), n in actions.items() if state == "done"}
    click.echo(f"  tasks created {done.get('CreateTask', 0)}, cancelled by a booking {done.get('CompleteTask', 0)}, "
               f"restored {done.get('RestoreTask', 0)}")
    click.echo("messages")
    with svc.store.session() as s:
        per = s.execute(select(MessageRow.template, MessageRow.state, func.count())
                        .group_by(MessageRow.template, MessageRow.state).order_by(MessageRow.template))
        for template, state, n in per:
            click.echo(f"  {template:<20} {state:<10} {n}")
    sandbox = requests.get(f"{amocrm_url}/_sandbox/stats", timeout=5).json()
    crm_actions = sum(n for (kind, state), n in actions.items() if state == "done" and kind in CRM_KINDS)
    calls = sandbox["total_requests"]
    click.echo(f"  amoCRM calls {calls} for {crm_actions} actions "
               f"({calls / max(crm_actions, 1):.2f} per action), HTTP 429: {sandbox['rate_limited_429']}")
    click.echo("  (the calls may differ by a few from run to run: which actions share a batch depends on the order "
               "in which the two workers recorded them; every other figure is the same for the same seed)")
    failed = (svc.queue.rq.failed_job_registry.count + by_status.get("invalid", 0)
              + sum(n for (kind, state), n in actions.items() if state == "failed"))
    click.echo(f"jobs failed              {failed}")
    click.echo(f"took                     {elapsed:.1f} s")
    return failed



