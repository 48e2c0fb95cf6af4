"""``salonbridge worker``: an RQ worker on the salonbridge queue with this process's Services installed.

The worker outlives Redis: when Redis stops answering (at start-up or mid-way) it says so once, waits with
back-off until Redis answers again, says so once more and goes on with a fresh RQ worker. Jobs it was
running come back through RQ's abandoned-job recovery; events never queued, through the clock's sweeper.
"""

from __future__ import annotations

import logging
import signal
import threading

from redis.exceptions import RedisError

from bridge import telemetry
from bridge.outage import REDIS
from bridge.queue import make_worker
from bridge.services import Services
from jobs import context

log = logging.getLogger(__name__)


def run_worker(svc: Services, *, burst: bool = False, name: str | None = None,
               stop: threading.Event | None = None) -> bool:
    """Work until stopped (or, with ``burst``, until the queue is empty). Returns whether any job ran."""
    try:
        return _run_worker(svc, burst=burst, name=name, stop=stop)
    finally:
        telemetry.flush()  # the jobs' last observations go out now, not a moment after the worker stopped


def _run_worker(svc: Services, *, burst: bool, name: str | None, stop: threading.Event | None) -> bool:
    context.install(svc)
    if burst:  # a one-off run: Redis is checked before it starts, and an outage ends it
        return make_worker(svc.queue, name=name).work(burst=True, with_scheduler=True, logging_level=None)
    stop = stop or threading.Event()
    worked = False
    while not stop.is_set():
        _stop_on_signals(stop)
        if not _wait_for_redis(svc, stop):
            break
        try:
            worker = make_worker(svc.queue, name=name)
            worked = worker.work(burst=burst, with_scheduler=True, logging_level=None) or worked
        except RedisError as exc:  # at start-up or while tearing down after RQ gave up on Redis
            REDIS.down(exc)
            continue
        if worker._stop_requested or worker._shutdown_requested_date is not None:
            break
        try:  # RQ left its loop without being asked to: find out whether Redis is the reason
            svc.queue.ping()
        except RedisError as exc:
            REDIS.down(exc)
            continue
        log.warning("worker loop ended unexpectedly; starting it again")
        stop.wait(1)
    return worked


def _wait_for_redis(svc: Services, stop: threading.Event) -> bool:
    """Block until Redis answers (True) or a stop is asked for (False)."""
    while not stop.is_set():
        try:
            svc.queue.ping()
        except RedisError as exc:
            REDIS.down(exc)
            stop.wait(REDIS.next_wait())
            continue
        REDIS.up()
        return True
    return False


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
