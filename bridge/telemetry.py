"""Counters and latency histograms shared by every process of an install, kept in Redis.

Web, worker and clock processes (several of each, in as many containers as you like) add to the same
Redis hash, so ``/metrics`` and ``salonbridge status`` give one answer whatever process is asked.
Values only grow (``HINCRBY``/``HINCRBYFLOAT``): they go back to zero only if Redis itself loses its
data, which Prometheus sees as a counter reset. Recording never fails the work it measures.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY = "salonbridge:telemetry"
# Seconds: a webhook's event is normally processed well under a second; amoCRM answers in 0.1-2 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

Labels = Mapping[str, str]


def _field(kind: str, name: str, labels: Labels, extra: str = "") -> str:
    return json.dumps([kind, name, sorted(labels.items()), extra], ensure_ascii=False, separators=(",", ":"))


def count(redis: Any, name: str, labels: Labels, n: int = 1) -> None:
    """Add ``n`` to the counter ``name`` with these labels."""
    with suppress(RedisError):
        redis.hincrby(KEY, _field("c", name, labels), n)


def observe(redis: Any, name: str, labels: Labels, seconds: float) -> None:
    """Record one observation of the histogram ``name`` (one round trip: bucket, count, sum)."""
    _send(redis, _observation(name, labels, max(0.0, seconds)))


def _observation(name: str, labels: Labels, seconds: float) -> dict[tuple[str, str], float]:
    """What one observation adds, per (kind, hash field): its bucket and the count one each, the sum its value."""
    return {("b", _field("b", name, labels, _bucket(seconds))): 1, ("n", _field("n", name, labels)): 1,
            ("s", _field("s", name, labels)): seconds}


def _send(redis: Any, fields: Mapping[tuple[str, str], float]) -> None:
    """Add ``fields`` to the metrics hash in one round trip (sums as floats, bucket and count as integers)."""
    with suppress(RedisError):
        pipe = redis.pipeline(transaction=False)
        for (kind, name), amount in fields.items():
            if kind == "s":
                pipe.hincrbyfloat(KEY, name, amount)
            else:
                pipe.hincrby(KEY, name, int(amount))
        pipe.execute()


FLUSH_EVERY_S = 1.0  # how long observations of ``observe_soon`` may wait in the process before they are sent


class _Pending:
    """Histogram observations added up in this process and sent together in one round trip, by a side thread
    at most ``FLUSH_EVERY_S`` after they were made (and by ``flush``, e.g. when a worker stops)."""

    def __init__(self) -> None:
        self.lock, self.sending = threading.Lock(), threading.Lock()
        self.by_redis: dict[int, tuple[Any, dict[tuple[str, str], float]]] = {}
        self.thread: threading.Thread | None = None

    def add(self, redis: Any, name: str, labels: Labels, seconds: float) -> None:
        observation = _observation(name, labels, seconds)
        with self.lock:
            fields = self.by_redis.setdefault(id(redis), (redis, {}))[1]
            for key, amount in observation.items():
                fields[key] = fields.get(key, 0) + amount
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="telemetry-flush", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY_S)
            self.flush()

    def flush(self) -> None:
        with self.sending:  # one flush at a time: when it returns, what was held before has been sent
            with self.lock:
                pending, self.by_redis = self.by_redis, {}
            for redis, fields in pending.values():
                _send(redis, fields)

    def forget(self) -> None:
        """In a forked child: the parent sends what it holds, and the child has no flushing thread yet."""
        self.lock, self.sending = threading.Lock(), threading.Lock()
        self.by_redis, self.thread = {}, None


_PENDING = _Pending()
os.register_at_fork(after_in_child=_PENDING.forget)
atexit.register(_PENDING.flush)


def observe_soon(redis: Any, name: str, labels: Labels, seconds: float) -> None:
    """``observe``, sent within ``FLUSH_EVERY_S`` together with the process's other observations instead of
    in a round trip of its own (for hot paths: a worker's every event). A process killed outright loses what
    it has not sent yet (at most that last second's observations)."""
    _PENDING.add(redis, name, labels, max(0.0, seconds))


def flush() -> None:
    """Send the observations ``observe_soon`` holds now (a worker stopping, a test reading the metrics)."""
    _PENDING.flush()


def _bucket(seconds: float) -> str:
    slot = bisect.bisect_left(BUCKETS, seconds)
    return str(BUCKETS[slot]) if slot < len(BUCKETS) else "+Inf"


@dataclass
class Histogram:
    buckets: dict[str, int] = field(default_factory=dict)  # le → observations in that bucket alone
    count: int = 0
    sum: float = 0.0

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: observations at or under each bound, ending with +Inf = count."""
        out, running = [], 0
        for bound in [*map(str, BUCKETS), "+Inf"]:
            running += self.buckets.get(bound, 0)
            out.append((bound, running))
        return out


@dataclass
class Snapshot:
    counters: dict[str, dict[tuple[tuple[str, str], ...], int]] = field(default_factory=dict)
    histograms: dict[str, dict[tuple[tuple[str, str], ...], Histogram]] = field(default_factory=dict)

    def total(self, name: str, **match: str) -> float:
        """A counter summed over the label sets that carry ``match``."""
        return sum(n for labels, n in self.counters.get(name, {}).items() if set(match.items()) <= set(labels))


def read(redis: Any) -> Snapshot:
    """Every counter and histogram recorded so far (raises RedisError when Redis does not answer)."""
    snap = Snapshot()
    for raw_field, raw_value in redis.hgetall(KEY).items():
        try:
            kind, name, labels, extra = json.loads(raw_field)
        except ValueError:
            continue
        key = tuple((str(k), str(v)) for k, v in labels)
        if kind == "c":
            snap.counters.setdefault(name, {})[key] = int(raw_value)
            continue
        hist = snap.histograms.setdefault(name, {}).setdefault(key, Histogram())
        if kind == "b":
            hist.buckets[extra] = int(raw_value)
        elif kind == "n":
            hist.count = int(raw_value)
        elif kind == "s":
            hist.sum = float(raw_value)
    return snap


# --- what is recorded, by name (docs/operations.md lists them as exported) ------------------------------

EVENTS_RECEIVED = "salonbridge_events_received"
EVENTS_DUPLICATE = "salonbridge_events_duplicate"
EVENTS_REJECTED = "salonbridge_events_rejected"
EVENT_LATENCY = "salonbridge_event_latency_seconds"
AMOCRM_REQUESTS = "salonbridge_amocrm_requests"
AMOCRM_RATE_LIMITED = "salonbridge_amocrm_rate_limited"
AMOCRM_REQUEST_DURATION = "salonbridge_amocrm_request_duration_seconds"
AMOCRM_TOKEN_REFRESHES = "salonbridge_amocrm_token_refreshes"
MESSAGES_SENT = "salonbridge_messages_sent"
MESSAGES_FAILED = "salonbridge_messages_failed"


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx`` for an HTTP status, ``error`` for no answer at all (timeout, refused)."""
    return f"{status // 100}xx" if status else "error"


class AmoCrmRecorder:
    """The amoCRM client's observer for one tenant: every HTTP exchange by status class, 429s, durations."""

    def __init__(self, redis: Any, tenant: str):
        self.redis, self.tenant = redis, tenant

    def __call__(self, status: int | None, seconds: float) -> None:
        labels = {"tenant": self.tenant}
        count(self.redis, AMOCRM_REQUESTS, {**labels, "status_class": status_class(status)})
        if status == 429:
            count(self.redis, AMOCRM_RATE_LIMITED, labels)
        observe(self.redis, AMOCRM_REQUEST_DURATION, labels, seconds)
