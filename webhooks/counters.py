"""Intake counters kept in Redis, so every gunicorn worker and the /metrics scrape see the same totals."""

from __future__ import annotations

from contextlib import suppress

from redis.exceptions import RedisError

from bridge.queue import JobQueue

KEY = "salonbridge:metrics:intake"


def _incr(queue: JobQueue, field: str) -> None:
    with suppress(RedisError):  # counting must never fail a request
        queue.connection.hincrby(KEY, field, 1)


def received(queue: JobQueue) -> None:
    _incr(queue, "received")


def duplicate(queue: JobQueue) -> None:
    _incr(queue, "duplicate")


def rejected(queue: JobQueue, status: int) -> None:
    _incr(queue, f"rejected:{status}")


def read(queue: JobQueue) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in queue.connection.hgetall(KEY).items()}
