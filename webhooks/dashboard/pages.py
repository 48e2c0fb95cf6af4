"""The agency's list of salons and each salon's overview (with the failed-job retry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from flask import flash, redirect, render_template, url_for
from redis.exceptions import RedisError

from bridge import failed_jobs
from bridge.amocrm.connect import ConnectionStatus, connection_status
from bridge.amocrm.ratelimit import Usage, paused_until, usage
from bridge.readiness import amocrm_problems
from bridge.services import Services
from bridge.store import crm_queue, insights, stats
from bridge.tenancy import examine_document
from config.tenants import ConfigProblem, Tenant, TenantFileError, read_yaml
from webhooks.context import current_services
from webhooks.dashboard.auth import current_user, login_required, tenant_page, visible_tenants
from webhooks.dashboard.blueprint import bp

log = logging.getLogger(__name__)
FAILED_STATUSES = ("retry", "invalid")


@dataclass
class Overview:
    events: dict[str, int]
    received: int
    failed: int
    backlog: int
    oldest: datetime | None
    last_by_source: dict[str, datetime]
    warnings: list[ConfigProblem]
    notes: list[ConfigProblem] = field(default_factory=list)
    amocrm: ConnectionStatus | None = None
    queue_depth: int | None = None
    failed_jobs: list[failed_jobs.FailedJob] | None = None  # None: Redis unreachable
    rate: Usage | None = None  # amoCRM requests drawn from the account's budget lately (every tenant on it)
    rate_limit: float = 0.0  # the budget, requests per second
    paused: datetime | None = None  # amoCRM blocked the account (403): calls wait until then


def local_midnight(tenant: Tenant, now: datetime) -> datetime:
    return datetime.combine(now.astimezone(tenant.timezone).date(), time(0), tzinfo=tenant.timezone)


def check_findings(tenant: Tenant, svc: Services, now: datetime) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """What ``salonbridge check --online`` says of this tenant (without calling amoCRM): problems, notes."""
    problems: list[ConfigProblem] = []
    notes: list[ConfigProblem] = []
    if tenant.path is not None:
        try:
            found = examine_document(read_yaml(tenant.path), tenant.path, svc.settings.environ, operational=True)
            problems, notes = found.problems, found.notes
        except TenantFileError as exc:  # the file changed on disk since the process started
            problems = list(exc.problems)
    return problems + amocrm_problems(tenant, svc, now, probe=False), notes


def overview_of(tenant: Tenant, svc: Services, now: datetime, *, jobs: bool = True) -> Overview:
    events = stats.events_by_status(svc.store, tenant.slug, since=local_midnight(tenant, now))
    warnings, notes = check_findings(tenant, svc, now)
    found = Overview(
        events=events, received=sum(events.values()), failed=sum(events.get(s, 0) for s in FAILED_STATUSES),
        backlog=crm_queue.pending_count(svc.store, tenant.slug), oldest=crm_queue.backlog(svc.store).get(tenant.slug),
        last_by_source={**stats.last_received_by_source(svc.store, tenant.slug),
                        **insights.last_payment_callbacks(svc.store, tenant.slug)},
        warnings=warnings, notes=notes,
        amocrm=connection_status(tenant, svc, probe=False),
    )
    if jobs:
        try:
            found.queue_depth = svc.queue.depth()
            found.failed_jobs = failed_jobs.failed_jobs(svc.queue, svc.store, tenant.slug)
            found.rate = usage(svc.queue.connection, tenant.amocrm.base_url)
            found.rate_limit = tenant.amocrm.requests_per_second
            found.paused = paused_until(svc.queue.connection, tenant.slug)
        except RedisError:
            log.warning("the dashboard could not read the queue (Redis unreachable)")
    return found


@bp.get("/")
@login_required
def home():
    user = current_user()
    if not user.is_admin:
        return redirect(url_for("dashboard.overview", slug=user.tenant))
    svc, now = current_services(), datetime.now(UTC)
    rows = [(t, overview_of(t, svc, now, jobs=False)) for t in visible_tenants()]
    return render_template("dash_home.html", rows=rows)


@bp.get("/t/<slug>/")
@tenant_page
def overview(tenant: Tenant):
    svc = current_services()
    sources = [tenant.booking.kind, "amocrm"]
    return render_template("dash_overview.html", o=overview_of(tenant, svc, datetime.now(UTC)), sources=sources)


@bp.post("/t/<slug>/jobs/<job_id>/retry")
@tenant_page
def retry_job(tenant: Tenant, job_id: str):
    svc = current_services()
    try:
        done = failed_jobs.retry(svc.queue, svc.store, job_id, tenant.slug)
    except RedisError:
        done = False
    flash("retried" if done else "retry_gone")
    log.info("dashboard: failed job %s of %s %s", job_id, tenant.slug, "requeued" if done else "not requeued")
    return redirect(url_for("dashboard.overview", slug=tenant.slug))
