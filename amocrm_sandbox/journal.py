"""The request journal: every API request as it arrived (time, method, path, query, body, bearer token)
and how it was answered, so a test can assert what reached "amoCRM" — the calls, their order and spacing.

Bounded (the newest ``capacity`` requests) so a long demo does not grow it forever. Listeners run in the
request's thread on arrival, before the request is processed — a test can look at its own state at the
exact moment a call lands.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Call:
    seq: int
    at: float  # the sandbox's monotonic clock when the request arrived
    method: str
    path: str
    args: list[tuple[str, str]]  # the query string, in order, repeated keys kept
    body: Any  # parsed JSON (or the form as a dict), None when empty
    token: str | None  # the bearer token sent, if any
    status: int = 0  # 0 until answered
    tags: list[str] = field(default_factory=list)  # faults that touched it: "step", "late", "burst_429", …

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[Call], None]


class Journal:
    def __init__(self, capacity: int = 2_000):
        self._lock = threading.Lock()
        self._calls: deque[Call] = deque(maxlen=capacity)
        self._seq = 0
        self._listeners: list[Listener] = []

    def record(self, method: str, path: str, args: list[tuple[str, str]], body: Any, token: str | None,
               at: float) -> Call:
        with self._lock:
            self._seq += 1
            call = Call(self._seq, at, method, path, args, body, token)
            self._calls.append(call)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)
        return call

    def listen(self, listener: Listener) -> None:
        """In-process hook (tests): ``listener(call)`` on every arrival."""
        with self._lock:
            self._listeners.append(listener)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if (method is None or c.method == method.upper())
                    and (path is None or c.path == path)]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._listeners.clear()
