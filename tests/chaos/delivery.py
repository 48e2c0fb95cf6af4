"""Deliveries as a careless sender makes them: every webhook three times, some out of order, posted from a
few connections; an answer that is not 2xx (the web is down, a restart) is posted again, as a sender that
retries would, until it is answered 2xx. Given several addresses (webs behind a balancer), deliveries take
turns and a delivery not answered 2xx is posted again to the next address."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests


def messy(bodies: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Three copies of each webhook: the first in order except every eighth nudged past its neighbour,
    the second a few dozen deliveries later, the third up to a few hundred later."""
    placed = []
    for i, body in enumerate(bodies):
        placed.append((i + (1.5 if i % 8 == 0 else 0), body))
        placed.append((i + rng.uniform(1, 40), body))
        placed.append((i + rng.uniform(1, 300), body))
    placed.sort(key=lambda p: p[0])
    return [body for _, body in placed]


def out_of_order(plan: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> int:
    """Deliveries that arrive after a later webhook was already delivered (first copies only)."""
    index = {id(body): i for i, body in enumerate(bodies)}
    seen, latest, late = set(), -1, 0
    for body in plan:
        i = index[id(body)]
        if i in seen:
            continue
        seen.add(i)
        late += i < latest
        latest = max(latest, i)
    return late


class Sender:
    """Posts a plan of deliveries from ``connections`` threads; ``done`` counts deliveries answered 2xx."""

    def __init__(self, url: str | list[str], connections: int = 4, give_up_s: float = 180.0) -> None:
        self.urls = [url] if isinstance(url, str) else list(url)
        self.connections, self.give_up_s = connections, give_up_s
        self._turn = itertools.count()
        self.answers: Counter = Counter()  # every attempt: its status, or the exception's name
        self.retried = 0
        self.done = 0
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _deliver(self, body: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.give_up_s
        turn = next(self._turn)
        while True:
            url = self.urls[turn % len(self.urls)]
            turn += 1
            started = time.perf_counter()
            try:
                status: int | str = self._session().post(url, json=body, timeout=15).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
                self._local.__dict__.pop("session", None)
            took = time.perf_counter() - started
            with self._lock:
                self.answers[status] += 1
                if status in (200, 202):
                    self.done += 1
                    self.latencies.append(took)
                    return
                self.retried += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"a delivery was not answered 2xx within {self.give_up_s:.0f} s: {status}")
            time.sleep(0.2)

    def post_all(self, plan: list[dict[str, Any]]) -> None:
        with ThreadPoolExecutor(max_workers=self.connections) as pool:
            for future in [pool.submit(self._deliver, body) for body in plan]:
                future.result()

    def post_paced(self, plan: list[dict[str, Any]], per_second: float) -> None:
        """Like ``post_all``, but a new delivery starts only every 1/``per_second`` s: a burst that lasts."""
        with ThreadPoolExecutor(max_workers=self.connections) as pool:
            futures = []
            for body in plan:
                futures.append(pool.submit(self._deliver, body))
                time.sleep(1 / per_second)
            for future in futures:
                future.result()
