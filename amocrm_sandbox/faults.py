"""Injected failures: 5xx, latency, forced 429s and "stored, then timed out" writes.

The last one is the case that makes POSTs dangerous to retry: amoCRM applied the write but the client
never saw the answer (§3 item 4, fact 10). The sandbox applies and persists the request, then holds the
response longer than the client's read timeout.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0  # share of API requests answered with ``error_status`` before processing
    error_status: int = 500
    slow_ms: int = 0  # latency added to every API request
    burst_429: int = 0  # the next N API requests get 429 (they count toward the 403 block)
    store_then_timeout: str | None = None  # "POST /api/v4/leads" or a glob on the path ("/api/v4/*")
    store_then_timeout_times: int | None = 1  # how many matching requests hang; None = all of them
    hang_seconds: float = 3.0  # how long the response is held after the write
    seed: int | None = None  # for a reproducible error_rate

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Faults:
        """Build from JSON (``POST /_sandbox/faults``); wrong names or types raise ValueError."""
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        kinds = {"error_rate": float, "hang_seconds": float, "error_status": int, "slow_ms": int, "burst_429": int,
                 "store_then_timeout_times": int, "seed": int, "store_then_timeout": str}
        values: dict[str, Any] = {}
        for name, value in raw.items():
            kind = kinds[name]
            nullable = name in ("store_then_timeout", "store_then_timeout_times", "seed")
            if value is None and nullable:
                values[name] = None
            elif kind is str and isinstance(value, str):
                values[name] = value
            elif kind is not str and isinstance(value, int | float) and not isinstance(value, bool):
                values[name] = kind(value)
            else:
                raise ValueError(f"{name}: expected {kind.__name__}{' or null' if nullable else ''}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(pattern: str, method: str, path: str) -> bool:
    want_method, _, want_path = pattern.partition(" ") if " " in pattern else ("", "", pattern)
    if want_method and want_method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(path, want_path)


class FaultInjector:
    """Thread-safe holder of the current Faults; counters (burst, hang times) are consumed here."""

    def __init__(self, faults: Faults | None = None):
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def take_429(self) -> bool:
        with self._lock:
            if self._faults.burst_429 <= 0:
                return False
            self._faults = replace(self._faults, burst_429=self._faults.burst_429 - 1)
            return True

    def error_status(self) -> int | None:
        with self._lock:
            if self._faults.error_rate > 0 and self._random.random() < self._faults.error_rate:
                return self._faults.error_status
            return None

    def delay_seconds(self) -> float:
        return self.current.slow_ms / 1000.0

    def take_hang(self, method: str, path: str) -> float:
        """Seconds to hold this (already applied) response; 0 when no hang applies."""
        with self._lock:
            f = self._faults
            if not f.store_then_timeout or not _matches(f.store_then_timeout, method, path):
                return 0.0
            if f.store_then_timeout_times is not None:
                if f.store_then_timeout_times <= 0:
                    return 0.0
                self._faults = replace(f, store_then_timeout_times=f.store_then_timeout_times - 1)
            return f.hang_seconds
