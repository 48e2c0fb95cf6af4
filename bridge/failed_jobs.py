"""RQ's failed jobs, per tenant, for the dashboard: what failed, why (the last line of the error), and a retry.

Every job we queue names its tenant in its arguments except event jobs, which name the stored event;
their tenants are looked up in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from bridge.queue import PROCESS_EVENT, JobQueue
from bridge.store import insights
from bridge.store.db import Store

SCAN_LIMIT = 500


@dataclass(frozen=True)
class FailedJob:
    id: str
    function: str
    tenant: str | None
    failed_at: datetime | None
    reason: str


def _outcome(job: Job) -> tuple[datetime | None, str]:
    """When the job failed and the last line of its error."""
    result = job.latest_result()
    text = (result.exc_string if result else None) or ""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return job.ended_at or (result.created_at if result else None), lines[-1][:300] if lines else "no error recorded"


def failed_jobs(queue: JobQueue, store: Store, tenant: str | None = None, limit: int = 50) -> list[FailedJob]:
    """The newest failed jobs (of one tenant when given)."""
    registry = queue.rq.failed_job_registry
    ids = registry.get_job_ids(0, SCAN_LIMIT - 1, desc=True)
    jobs = [j for j in Job.fetch_many(ids, connection=queue.connection) if j is not None]
    event_ids = [int(j.args[0]) for j in jobs if j.func_name == PROCESS_EVENT and j.args]
    owners = insights.tenants_of_events(store, event_ids)
    found = []
    for job in jobs:
        owner = owners.get(int(job.args[0])) if job.func_name == PROCESS_EVENT and job.args else (
            job.args[0] if job.args and isinstance(job.args[0], str) else None)
        if tenant is not None and owner != tenant:
            continue
        found.append(FailedJob(job.id, job.func_name.rsplit(".", 1)[-1], owner, *_outcome(job)))
        if len(found) >= limit:
            break
    return found


def retry(queue: JobQueue, store: Store, job_id: str, tenant: str | None = None) -> bool:
    """Put a failed job back on the queue; False when it is not (or no longer) failed or not the tenant's."""
    if tenant is not None and job_id not in {j.id for j in failed_jobs(queue, store, tenant, limit=SCAN_LIMIT)}:
        return False
    try:
        queue.rq.failed_job_registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):
        return False
    return True
