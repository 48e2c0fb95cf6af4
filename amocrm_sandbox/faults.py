"""Injected failures: steady ones (``Faults``: a share of 5xx, a share of late answers, a burst of 429s,
a one-off token expiry, "stored, then timed out" writes) and scripted one-offs (``Step``: "the next
``POST /api/v4/leads`` gets this answer").

"Stored, then timed out" is the case that makes POSTs dangerous to retry: amoCRM applied the write but
the client never saw the answer (§3 item 4, fact 10). The sandbox applies and persists the request, then
holds the response longer than the client's read timeout. Late answers (``slow_rate``) work the same way:
the request is processed, only the answer is late.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

_TYPES = {"float": float, "int": int, "str": str, "bool": bool}


def checked_fields(cls: type, raw: dict[str, Any], what: str) -> dict[str, Any]:
    """Check a JSON object against a dataclass's annotated scalar fields; wrong names or types raise ValueError."""
    known = {f.name: str(f.type) for f in fields(cls)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ValueError(f"unknown {what}: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        spelled = known[name]
        nullable = "None" in spelled
        kind = _TYPES.get(spelled.split(" |")[0].strip(), object)
        if value is None and nullable:
            values[name] = None
        elif kind is object or (kind is str and isinstance(value, str)) or (kind is bool and isinstance(value, bool)):
            values[name] = value
        elif kind in (int, float) and isinstance(value, int | float) and not isinstance(value, bool) and (
                kind is float or float(value).is_integer()):
            values[name] = kind(value)
        else:
            raise ValueError(f"{name}: expected {kind.__name__}{' or null' if nullable else ''}")
    return values


@dataclass(frozen=True)
class Faults:
    """Steady faults of API requests (``/api/…`` and ``/oauth2/…``). Counters (``burst_429``,
    ``expire_token_after``, ``store_then_timeout_times``) count down as they fire."""

    error_rate: float = 0.0  # share of API requests answered with ``error_status`` before processing
    error_status: int = 500
    slow_ms: int = 0  # latency added to every API request, before processing
    slow_rate: float = 0.0  # share of API requests processed, then answered ``slow_seconds`` late
    slow_seconds: float = 21.0  # past the client's 20 s read timeout; tests use ~1 s with a short timeout
    burst_429: int = 0  # the next N API requests get 429 (they count toward the 403 block)
    burst_retry_after: int | None = None  # the burst's 429s say this in ``Retry-After`` and ``retry_after``
    expire_token_after: int | None = None  # the OAuth access token of the (N+1)-th next request expires, once
    reject_tokens: bool = False  # every API call answers 401 while /oauth2/access_token still issues tokens
    store_then_timeout: str | None = None  # "POST /api/v4/leads" or a glob on the path ("/api/v4/*")
    store_then_timeout_times: int | None = 1  # how many matching requests hang; None = all of them
    hang_seconds: float = 3.0  # how long a store-then-timeout response is held after the write
    seed: int | None = None  # for reproducible error_rate/slow_rate draws

    def __post_init__(self) -> None:
        for name in ("error_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: a share between 0 and 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status: a status between 500 and 599")
        for name in ("slow_ms", "slow_seconds", "burst_429", "burst_retry_after", "expire_token_after",
                     "store_then_timeout_times", "hang_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: must not be negative")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base: Faults | None = None) -> Faults:
        """Build from JSON (``POST /_sandbox/faults``; ``PATCH`` passes the current ones as ``base``)."""
        return replace(base or cls(), **checked_fields(cls, raw, "fault settings"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """A scripted one-off: the next API request matching ``request`` ("POST /api/v4/leads", a glob on the
    path, or a path alone) is treated as said here, then the step is used up.

    ``status`` answers that status instead of processing (``retry_after`` as a header, ``html`` for a
    gateway page, ``body`` as the JSON body); ``delay_seconds`` waits before processing; ``hang_seconds``
    processes normally and then holds the answer. A step with none of them lets one request through
    untouched (useful to target the second of several calls)."""

    request: str
    status: int | None = None
    retry_after: str | None = None
    html: bool = False
    body: Any = None
    delay_seconds: float = 0.0
    hang_seconds: float = 0.0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Step:
        if not isinstance(raw.get("request"), str) or not raw["request"].strip():
            raise ValueError('request: e.g. "POST /api/v4/leads"')
        step = cls(**checked_fields(cls, raw, "step settings"))
        if step.status is not None and not 100 <= step.status <= 599:
            raise ValueError("status: an HTTP status")
        return step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(pattern: str, method: str, path: str) -> bool:
    want_method, _, want_path = pattern.partition(" ") if " " in pattern else ("", "", pattern)
    if want_method and want_method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(path, want_path)


class FaultInjector:
    """Thread-safe holder of the current Faults and scripted Steps; counters are consumed here."""

    def __init__(self, faults: Faults | None = None):
        self._lock = threading.Lock()
        self._steps: list[Step] = []
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)

    def update(self, raw: dict[str, Any]) -> Faults:
        """Change only the named settings (``PATCH /_sandbox/faults``); a ``seed`` among them restarts the draws."""
        with self._lock:
            self._faults = Faults.from_dict(raw, self._faults)
            if "seed" in raw:
                self._random = random.Random(self._faults.seed)
            return self._faults

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    # -- scripted steps ----------------------------------------------------------------------------

    def script(self, steps: list[Step]) -> None:
        with self._lock:
            self._steps.extend(steps)

    def steps(self) -> list[Step]:
        with self._lock:
            return list(self._steps)

    def clear_steps(self) -> None:
        with self._lock:
            self._steps.clear()

    def take_step(self, method: str, path: str) -> Step | None:
        """The first queued step matching this request, used up."""
        with self._lock:
            for i, step in enumerate(self._steps):
                if _matches(step.request, method, path):
                    return self._steps.pop(i)
            return None

    # -- steady faults -----------------------------------------------------------------------------

    def _count_down(self, name: str) -> bool:
        """True when the counter ``name`` fires now (burst: while > 0; token expiry: when it reaches 0)."""
        with self._lock:
            value = getattr(self._faults, name)
            if value is None or (name == "burst_429" and value <= 0):
                return False
            if name == "burst_429":
                self._faults = replace(self._faults, burst_429=value - 1)
                return True
            self._faults = replace(self._faults, **{name: value - 1 if value > 0 else None})
            return value == 0

    def take_429(self) -> bool:
        return self._count_down("burst_429")

    def take_token_expiry(self) -> bool:
        return self._count_down("expire_token_after")

    def error_status(self) -> int | None:
        with self._lock:
            if self._faults.error_rate > 0 and self._random.random() < self._faults.error_rate:
                return self._faults.error_status
            return None

    def late_seconds(self) -> float:
        """Seconds to hold this request's answer after processing it (``slow_rate``), usually 0."""
        with self._lock:
            if self._faults.slow_rate > 0 and self._random.random() < self._faults.slow_rate:
                return self._faults.slow_seconds
            return 0.0

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
