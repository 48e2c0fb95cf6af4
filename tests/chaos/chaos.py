"""The chaos itself, against one running install while its webhooks are being delivered: workers killed
with SIGKILL at random moments, the web killed once, Redis stopped and started again (empty), amoCRM
answering 5 % 5xx, answers past the client's timeout, 429 bursts and one access-token expiry that makes
the workers refresh (the sandbox rotates refresh tokens strictly: the old one is refused once used)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from tests.chaos.install import Install

SIZE_ENV = "SALONBRIDGE_CHAOS_WEBHOOKS"
SHORT_SIZE = 300


@dataclass(frozen=True)
class Plan:
    """How hard a run shakes the install; ``for_size`` scales it with the number of webhooks."""

    webhooks: int
    worker_kills: int
    kill_every_s: tuple[float, float]
    redis_down_s: float
    bursts_429: int
    burst_size: int = 6
    error_rate: float = 0.05
    late_answers: int = 1  # answers held past the client's 20 s read timeout (the write was applied)
    seed: int = 17

    @classmethod
    def for_size(cls, webhooks: int) -> Plan:
        if webhooks >= 5_000:
            return cls(webhooks, worker_kills=20, kill_every_s=(3.0, 12.0), redis_down_s=30.0, bursts_429=4,
                       late_answers=3)
        return cls(webhooks, worker_kills=3, kill_every_s=(1.5, 5.0), redis_down_s=4.0, bursts_429=1)

    @classmethod
    def from_env(cls) -> Plan:
        return cls.for_size(int(os.environ.get(SIZE_ENV, SHORT_SIZE)))


@dataclass
class Record:
    """What the chaos did, for the figures."""

    worker_kills: list[float] = field(default_factory=list)  # seconds into the run
    web_kills: list[float] = field(default_factory=list)
    redis_down: list[tuple[float, float]] = field(default_factory=list)
    bursts_429: int = 0
    token_expired_at: float | None = None
    notes: Counter = field(default_factory=Counter)


class Chaos:
    """Runs beside the sender: milestones tied to the share of deliveries answered, kills on a timer."""

    def __init__(self, it: Install, plan: Plan, progress) -> None:
        self.it, self.plan, self.progress = it, plan, progress
        self.rng = random.Random(plan.seed)
        self.record = Record()
        self.halt = threading.Event()
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._milestones, daemon=True),
                         threading.Thread(target=self._killer, daemon=True)]
        self.errors: list[BaseException] = []

    def _control(self, method: str, path: str, body: dict) -> dict:
        response = requests.request(method, f"{self.it.amocrm}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def start(self) -> None:
        self._control("POST", "faults", {"error_rate": self.plan.error_rate, "seed": self.plan.seed,
                                         "store_then_timeout": "POST /api/v4/*",
                                         "store_then_timeout_times": self.plan.late_answers, "hang_seconds": 21})
        for thread in self._threads:
            thread.start()

    def at(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def _guarded(self, action) -> None:
        try:
            action()
        except BaseException as exc:  # reported by finish(), which fails the test
            self.errors.append(exc)

    def _wait_for(self, share: float) -> bool:
        while not self.halt.is_set():
            if self.progress() >= share:
                return True
            time.sleep(0.05)
        return False

    def _milestones(self) -> None:
        self._guarded(self._run_milestones)

    def _run_milestones(self) -> None:
        bursts = [0.1 + 0.8 * i / max(1, self.plan.bursts_429) for i in range(self.plan.bursts_429)]
        steps = sorted([(share, "burst") for share in bursts] + [(0.2, "web"), (0.3, "token"), (0.45, "redis")])
        for share, what in steps:
            if not self._wait_for(share):
                return
            if what == "burst":
                self._control("PATCH", "faults", {"burst_429": self.plan.burst_size})
                self.record.bursts_429 += 1
            elif what == "web":
                [pid] = self.it.processes("web")
                os.kill(pid, signal.SIGKILL)
                self.record.web_kills.append(self.at())
            elif what == "token":
                self._control("PATCH", "faults", {"expire_token_after": 2})
                self.record.token_expired_at = self.at()
            else:
                down = self.at()
                self.it.stop_redis()
                self.halt.wait(self.plan.redis_down_s)
                self.it.start_redis()
                self.record.redis_down.append((down, self.at()))

    def _killer(self) -> None:
        self._guarded(self._run_killer)

    def _run_killer(self) -> None:
        while len(self.record.worker_kills) < self.plan.worker_kills:
            if self.halt.wait(self.rng.uniform(*self.plan.kill_every_s)):
                return
            alive = self.it.processes("worker")
            if alive:
                os.kill(self.rng.choice(alive), signal.SIGKILL)
                self.record.worker_kills.append(self.at())

    def finish(self, timeout_s: float) -> Record:
        """Wait until every kill was made (the run goes on meanwhile), then stop the timers."""
        deadline = time.monotonic() + timeout_s
        while self._threads[1].is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.halt.set()
        for thread in self._threads:
            thread.join(timeout=self.plan.redis_down_s + 10)
        if self.errors:
            raise self.errors[0]
        return self.record
