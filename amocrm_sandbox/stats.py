"""Traffic counters a test asserts on: did the client stay under 7 req/s, how often was it refused."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any


class Stats:
    def __init__(self, clock: Callable[[], float], wall: Callable[[], float] = time.time):
        self._clock = clock
        self.clock = clock  # the journal stamps arrivals with the same clock
        self._wall = wall
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_endpoint: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._per_second: Counter[int] = Counter()
            self._window: deque[float] = deque()
            self._max_in_window = 0
            self._calendar = (0, 0)  # (calendar second, requests in it)
            self._max_in_calendar_second = 0
            self._events: Counter[str] = Counter()
            self._started: float | None = None

    def record_request(self, endpoint: str) -> None:
        """Counted on arrival, before the limiter, so refused requests show up too."""
        with self._lock:
            now = self._clock()
            if self._started is None:
                self._started = now
            self._total += 1
            self._by_endpoint[endpoint] += 1
            self._per_second[int(now - self._started)] += 1
            self._window.append(now)
            while self._window[0] <= now - 1.0:
                self._window.popleft()
            self._max_in_window = max(self._max_in_window, len(self._window))
            second = int(self._wall())
            count = self._calendar[1] + 1 if self._calendar[0] == second else 1
            self._calendar = (second, count)
            self._max_in_calendar_second = max(self._max_in_calendar_second, count)

    def note(self, event: str) -> None:
        """Count a fault or delivery event (``late_answers``, ``token_expiries``, ``webhooks_sent``, …)."""
        with self._lock:
            self._events[event] += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self._by_status[status] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            per_second = dict(sorted(self._per_second.items()))
            return {
                "total_requests": self._total,
                "by_endpoint": dict(self._by_endpoint.most_common()),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "rate_limited_429": self._by_status[429],
                "blocked_403": self._by_status[403],
                "max_requests_in_1s": self._max_in_window,  # any rolling second
                # the most requests that arrived within one calendar second (int of the wall clock)
                "max_requests_in_calendar_second": self._max_in_calendar_second,
                "events": dict(sorted(self._events.items())),
                # requests that arrived in second N since the first request
                "per_second": {str(k): v for k, v in per_second.items()},
                # how many seconds saw exactly N requests
                "per_second_histogram": {str(k): v for k, v in sorted(Counter(per_second.values()).items())},
            }
