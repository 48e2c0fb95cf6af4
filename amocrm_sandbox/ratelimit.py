"""amoCRM's edge limiter (§3): more than N requests in a rolling second → 429; repeated 429s → 403 block.

Only admitted requests fill the window (a refused request was not processed), so a client that backs
off correctly gets exactly N per second through. ``per_second_limit`` adds the strictest reading of
"7 requests per second": more than that many admitted requests within one calendar second (wall clock,
``int(time)``) → 429, so a client whose spacing drifts across second boundaries finds out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any


class Verdict(Enum):
    OK = "ok"
    LIMITED = "limited"
    BLOCKED = "blocked"


class RateLimiter:
    def __init__(self, requests_per_second: float, block_after_429s: int | None, block_window_s: float,
                 block_seconds: float, clock: Callable[[], float], *, per_second_limit: int | None = None,
                 wall: Callable[[], float] = time.time):
        self._rps = requests_per_second
        self._block_after = block_after_429s
        self._block_window = block_window_s
        self._block_seconds = block_seconds
        self._per_second = per_second_limit
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}
        self._calendar: dict[str, tuple[int, int]] = {}  # key → (calendar second, admitted in it)
        self._refusals: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def configure(self, **limits: Any) -> dict[str, Any]:
        """Change ``requests_per_second``, ``per_second_limit`` or ``block_after_429s`` at run time."""
        with self._lock:
            for name, attr in (("requests_per_second", "_rps"), ("per_second_limit", "_per_second"),
                               ("block_after_429s", "_block_after")):
                if name in limits:
                    setattr(self, attr, limits[name])
            return self.settings()

    def settings(self) -> dict[str, Any]:
        return {"requests_per_second": self._rps, "per_second_limit": self._per_second,
                "block_after_429s": self._block_after}

    def is_blocked(self, key: str) -> bool:
        with self._lock:
            return self._blocked_until.get(key, float("-inf")) > self._clock()

    def check(self, key: str) -> Verdict:
        """Admit the request into the window, or say why not."""
        with self._lock:
            now = self._clock()
            if self._blocked_until.get(key, float("-inf")) > now:
                return Verdict.BLOCKED
            window = self._admitted.setdefault(key, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            second = int(self._wall())
            seen, count = self._calendar.get(key, (second, 0))
            count = count if seen == second else 0
            if len(window) + 1 > self._rps or (self._per_second is not None and count + 1 > self._per_second):
                self._note_429(key, now)
                return Verdict.LIMITED
            window.append(now)
            self._calendar[key] = (second, count + 1)
            return Verdict.OK

    def note_429(self, key: str) -> None:
        """A 429 forced by a fault counts toward the block like a real one."""
        with self._lock:
            self._note_429(key, self._clock())

    def _note_429(self, key: str, now: float) -> None:
        if self._block_after is None:
            return
        refusals = self._refusals.setdefault(key, deque())
        while refusals and refusals[0] <= now - self._block_window:
            refusals.popleft()
        refusals.append(now)
        if len(refusals) >= self._block_after:
            self._blocked_until[key] = now + self._block_seconds
            refusals.clear()

    def blocked_for(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._blocked_until.get(key, 0.0) - self._clock())

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()
            self._calendar.clear()
            self._refusals.clear()
            self._blocked_until.clear()
