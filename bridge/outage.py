"""A dependency (Redis, the database) that stopped answering: one log line when the outage starts, one when
it ends, and a growing wait in between, so a long outage neither floods the log nor hammers the server."""

from __future__ import annotations

import logging
import threading
import time

import redis.exceptions
import sqlalchemy.exc

log = logging.getLogger("salonbridge.outage")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0


class Outage:
    """The state of one dependency in this process; thread-safe (heartbeat threads report too)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._since: float | None = None
        self._wait = BACKOFF_START_S
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._since is not None

    def down(self, exc: BaseException) -> None:
        """Note a failure; only the first of an outage is logged."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
            self._wait = BACKOFF_START_S
        log.warning("%s is unreachable (%s); retrying with back-off until it answers", self.name, describe(exc))

    def up(self) -> None:
        """Note a success; ends the outage (logged once) if there was one."""
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("%s answers again after %.0f s; carrying on", self.name, time.monotonic() - since)

    def next_wait(self) -> float:
        """The back-off before the next attempt: 0.5 s doubling up to 5 s (reset when the outage ends)."""
        with self._lock:
            wait = self._wait
            self._wait = min(self._wait * 2, BACKOFF_MAX_S)
        return wait


REDIS = Outage("Redis")
DATABASE = Outage("the database")


def outage_of(exc: BaseException) -> Outage | None:
    """Which dependency ``exc`` says is unreachable, or None for any other error."""
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return REDIS
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        return DATABASE
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return DATABASE
    return None


def describe(exc: BaseException) -> str:
    """The error's type and first line, without the statement or its parameters."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0][:200]}" if text else type(inner).__name__
