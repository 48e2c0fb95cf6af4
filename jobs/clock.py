"""The clock: exactly one acts per install, running ``SCHEDULE`` on wall-clock intervals.

It is a scheduler only: every task finds what is due through an index and queues it for the workers
(or does a few cheap writes itself), so no task waits behind planning. Its Redis lock is kept alive by
a heartbeat thread, never by the work loop, so a slow task cannot cost the clock its lock; a second
clock waits until the lock is free. Time-based work is driven from the store, not from RQ's scheduled
jobs, so nothing scheduled is lost with Redis.

The clock outlives Redis and the database: an outage is logged once when it starts and once when it ends,
the clock backs off meanwhile (it gives up its lock while Redis is away and takes it again after), and
nothing it would have done is lost, since everything due is found in the store on the next pass.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from bridge.outage import DATABASE, REDIS, outage_of
from bridge.queue import JOB_TIMEOUT_S, MAINTENANCE_INTERVAL_S
from bridge.services import Services
from bridge.store import crm_queue, inbox
from jobs.booking_commands import enqueue_booking_commands
from jobs.booking_sync import catch_up
from jobs.due import enqueue_due
from jobs.messages import send_due
from jobs.payments import enqueue_deadlines
from jobs.reconnect import enqueue_predicted

log = logging.getLogger(__name__)
LOCK_KEY = "salonbridge:clock"
QUEUE_MARK_KEY = "salonbridge:queue-mark"  # absent from a Redis that started empty or was flushed
LOCK_TTL_S = 30
HEARTBEAT_S = 5
LONGEST_WAIT = 6  # × the coalescing window: how long a tenant that is never quiet waits for its sync


@dataclass(frozen=True)
class Scheduled:
    name: str
    every_s: float
    run: Callable[[Services, datetime], object]
    doc: str


def sweep_outbox(svc: Services, now: datetime) -> int:
    """Queue events whose job never made it to Redis, or whose job vanished (Redis flushed)."""
    _reoffer_after_redis_lost_its_queue(svc, now)
    owed = inbox.owed(
        svc.store,
        older_than=now - timedelta(seconds=svc.settings.sweep_after_s),
        stuck_before=now - timedelta(seconds=JOB_TIMEOUT_S * 6 + MAINTENANCE_INTERVAL_S),
    )
    requeued = [event_id for event_id in owed if svc.queue.enqueue_event(event_id)]
    inbox.mark_requeued(svc.store, owed, now)
    if requeued:
        log.info("sweeper queued %d owed event(s)", len(requeued))
    return len(requeued)


def _reoffer_after_redis_lost_its_queue(svc: Services, now: datetime) -> None:
    """A Redis restarted without its data (or flushed) holds none of the jobs the sweeper queued before;
    without this they would wait for ``stuck_before`` (over ten minutes). The mark key tells: it is set
    here and only an emptied Redis lacks it, so a restart costs one UPDATE, and a normal pass one EXISTS."""
    redis = svc.queue.connection
    if redis.exists(QUEUE_MARK_KEY):
        return
    reopened = inbox.reopen_enqueued(svc.store)
    redis.set(QUEUE_MARK_KEY, now.isoformat())
    if reopened:
        log.info("Redis holds none of the %d queued event(s) (it started empty); queueing them again", reopened)


def recover_abandoned(svc: Services, now: datetime) -> None:
    svc.queue.recover_abandoned()


def sync_crm_backlog(svc: Services, now: datetime) -> int:
    """Queue an amoCRM sync for every tenant whose pending work has been quiet for the coalescing window
    (``SALONBRIDGE_CRM_COALESCE_S``), or whose oldest pending action has waited six windows.

    amoCRM writes go in batches: a client's booking, its confirmation and the client update a booking
    system sends within seconds of each other, and other clients' work of the same moment, become one
    request per kind instead of one sync each. The fixed job id per tenant makes a sync already waiting
    absorb the request.
    """
    window = timedelta(seconds=svc.settings.crm_coalesce_s)
    queued = 0
    for tenant, (oldest, newest) in crm_queue.backlog_span(svc.store).items():
        ready = crm_sync_at(oldest, newest, window) <= now
        if tenant in svc.tenants and ready and not crm_queue.paused(svc.store, tenant, now):
            queued += svc.queue.enqueue_crm_sync(tenant)
    return queued


def crm_sync_at(oldest: datetime, newest: datetime, window: timedelta) -> datetime:
    """When the clock queues the sync of pending amoCRM work recorded between ``oldest`` and ``newest``:
    once it has been quiet for ``window``, or once the oldest has waited ``LONGEST_WAIT`` windows."""
    return min(newest + window, oldest + window * LONGEST_WAIT)


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled("sweep-outbox", 2, sweep_outbox, "events stored but never queued (Redis was down)"),
    Scheduled("recover-abandoned-jobs", MAINTENANCE_INTERVAL_S, recover_abandoned, "jobs of killed workers"),
    Scheduled("sync-crm-backlog", 1, sync_crm_backlog, "amoCRM syncs for tenants with pending work"),
    Scheduled("playbook-due", 5, enqueue_due, "clients whose wake-up has come, to the workers"),
    Scheduled("send-due-messages", 5, send_due, "messages whose send time has come"),
    Scheduled("prepayment-deadlines", 15, enqueue_deadlines, "prepayments past their deadline, to the workers"),
    Scheduled("booking-commands", 15, enqueue_booking_commands, "prepayment news for the booking systems (comment, "
              "cancel)"),
    Scheduled("booking-catch-up", 30, catch_up, "booking-system records missed by webhooks"),
    Scheduled("reconnect-predicted", 3600, enqueue_predicted, "Reconnect's predicted-time first messages (if on)"),
)


class Heartbeat:
    """Keeps the clock's lock alive from a side thread; ``held`` turns False when it is lost."""

    def __init__(self, lock, ttl_s: int = LOCK_TTL_S, every_s: float = HEARTBEAT_S) -> None:
        self.lock, self.ttl_s, self.every_s = lock, ttl_s, every_s
        self.held = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="clock-heartbeat", daemon=True)

    def start(self) -> None:
        self.held.set()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 1)

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.lock.extend(self.ttl_s, replace_ttl=True)
            except Exception as exc:  # LockNotOwnedError or Redis down: stop acting until it is ours again
                if outage_of(exc) is REDIS:
                    REDIS.down(exc)
                elif self.held.is_set():
                    log.warning("clock lost its lock (%s); pausing until it can take it again", exc)
                self.held.clear()
                return
            REDIS.up()


def run_clock(svc: Services, stop: threading.Event | None = None, tick_s: float = 0.5) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); a second clock waits while the first holds the lock."""
    stop = stop or _stop_on_signals()
    waiting = {"said": False}
    while not stop.is_set():
        lock = svc.queue.connection.lock(LOCK_KEY, timeout=LOCK_TTL_S, thread_local=False)  # the heartbeat extends it
        if not _take(lock, stop, waiting):
            continue
        beat = Heartbeat(lock)
        beat.start()
        try:
            _act(svc, stop, beat, tick_s)
        finally:
            beat.stop()
            _release(lock)


def _take(lock, stop: threading.Event, waiting: dict[str, bool]) -> bool:
    try:
        taken = lock.acquire(blocking=False)
    except RedisError as exc:
        REDIS.down(exc)
        stop.wait(REDIS.next_wait())
        return False
    REDIS.up()
    if taken:
        if waiting["said"]:
            log.info("clock took the lock; acting")
        waiting["said"] = False
        return True
    if not waiting["said"]:
        log.info("another clock is running; waiting until it stops")
        waiting["said"] = True
    stop.wait(10 if not _lock_free_soon(lock) else 1)
    return False


def _lock_free_soon(lock) -> bool:
    """A lock left by a clock that lost Redis or was killed expires within its TTL; look again sooner then."""
    try:
        ttl = lock.redis.pttl(lock.name)
    except RedisError:
        return True
    return 0 <= ttl < 10_000


def _act(svc: Services, stop: threading.Event, beat: Heartbeat, tick_s: float) -> None:
    last_run: dict[str, float] = {}
    while not stop.is_set() and beat.held.is_set():
        if DATABASE.active and not _database_back(svc):
            stop.wait(DATABASE.next_wait())
            continue
        for task in SCHEDULE:
            if not beat.held.is_set():
                return
            if time.monotonic() - last_run.get(task.name, -1e9) >= task.every_s:
                last_run[task.name] = time.monotonic()
                _run_one(svc, task)
        stop.wait(tick_s)


def _database_back(svc: Services) -> bool:
    """During a database outage: one cheap query decides whether the tasks may run again."""
    try:
        svc.store.ping()
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        return False
    DATABASE.up()
    return True


def _release(lock) -> None:
    try:
        if lock.owned():
            lock.release()
    except RedisError:
        pass  # it expires by itself


def _run_one(svc: Services, task: Scheduled) -> None:
    try:
        task.run(svc, datetime.now(UTC))
    except Exception as exc:  # one failing task must not stop the others
        outage = outage_of(exc)
        if outage is None:
            log.exception("clock task %s failed", task.name)
        else:  # said once for the whole outage, not once per task and tick
            outage.down(exc)
        return


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
