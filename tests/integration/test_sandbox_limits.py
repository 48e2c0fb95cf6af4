"""The sandbox's edge over real HTTP: 7 req/s → 429, repeated 429 → 403 block, stats, injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from amocrm_sandbox import Faults, SandboxOptions, create_sandbox_app
from tests.fakes.http import serve


class Clock:
    """The limiter's monotonic clock, moved by hand so the tests never race real time."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Edge:
    base_url: str
    clock: Clock
    token: str

    def get(self, path: str = "/api/v4/account", **kwargs: Any) -> requests.Response:
        return requests.get(self.base_url + path, headers={"Authorization": f"Bearer {self.token}"},
                            timeout=kwargs.pop("timeout", 5), **kwargs)

    def post(self, path: str, body: Any, timeout: float = 5) -> requests.Response:
        return requests.post(self.base_url + path, json=body, headers={"Authorization": f"Bearer {self.token}"},
                             timeout=timeout)

    def control(self, path: str, body: Any = None) -> dict:
        response = requests.request("GET" if body is None else "POST", f"{self.base_url}/_sandbox/{path}",
                                    json=body, timeout=5)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Clock]]:
    clock = Clock()
    options = SandboxOptions(block_window_s=60, block_seconds=5)
    app = create_sandbox_app(tmp_path_factory.mktemp("limits") / "amocrm.json", requests_per_second=7,
                             block_after_429s=3, clock=clock, options=options)
    with serve(app) as base_url:
        yield base_url, clock


@pytest.fixture
def edge(running: tuple[str, Clock]) -> Edge:
    base_url, clock = running
    requests.post(f"{base_url}/_sandbox/reset", json={}, timeout=5).raise_for_status()
    token = requests.post(f"{base_url}/_sandbox/tokens", timeout=5).json()["access_token"]
    return Edge(base_url, clock, token)


def test_more_than_7_requests_in_a_rolling_second_get_429(edge: Edge) -> None:
    assert [edge.get().status_code for _ in range(4)] == [200] * 4
    edge.clock.t += 0.6
    assert [edge.get().status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = edge.get()
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json() == {"title": "Too Many Requests", "type": "https://httpstatus.es/429", "status": 429,
                              "detail": "You have sent too many requests in a given amount of time. "
                                        "Please try again later.", "retry_after": 1}
    assert "Retry-After" not in refused.headers
    edge.clock.t += 0.41  # the first four left the window, the three admitted at +0.6 are still in it
    assert [edge.get().status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    stats = edge.control("stats")
    assert stats["total_requests"] == 14 and stats["rate_limited_429"] == 3
    assert stats["max_requests_in_1s"] == 10
    assert stats["by_endpoint"]["GET /api/v4/account"] == 14
    assert stats["per_second"] == {"0": 9, "1": 5}
    assert stats["per_second_histogram"] == {"5": 1, "9": 1}


def test_repeated_429s_block_the_account_with_403(edge: Edge) -> None:
    for _ in range(7):
        assert edge.get().status_code == 200
    assert [edge.get().status_code for _ in range(3)] == [429, 429, 429]
    blocked = edge.get()
    assert blocked.status_code == 403 and blocked.headers["Content-Type"].startswith("text/html")
    assert "403 Forbidden" in blocked.text
    edge.clock.t += 2
    assert edge.get().status_code == 403  # still blocked, whatever the rate
    assert edge.control("stats")["blocked_403"] == 2
    edge.clock.t += 3
    assert edge.get().status_code == 200


def test_sandbox_endpoints_are_not_limited_or_counted(edge: Edge) -> None:
    for _ in range(12):
        edge.control("stats")
    assert requests.get(f"{edge.base_url}/", timeout=5).status_code == 200
    assert edge.get().status_code == 200
    assert edge.control("stats")["total_requests"] == 1


def test_injected_5xx_is_refused_before_any_write(edge: Edge) -> None:
    edge.control("faults", {"error_rate": 1.0, "error_status": 503})
    response = edge.post("/api/v4/leads", [{"name": "never"}])
    assert response.status_code == 503 and response.json()["title"] == "ErrInternalServer"
    assert "trace_id" in response.json()
    edge.control("faults", {})
    edge.clock.t += 1
    assert edge.get("/api/v4/leads").status_code == 204


def test_burst_of_forced_429s(edge: Edge) -> None:
    edge.control("faults", {"burst_429": 2})
    assert [edge.get().status_code for _ in range(3)] == [429, 429, 200]
    assert edge.control("faults")["burst_429"] == 0


def test_store_then_time_out_applies_the_write(edge: Edge) -> None:
    edge.control("faults", {"store_then_timeout": "POST /api/v4/leads", "hang_seconds": 1.0, "slow_ms": 0})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        edge.post("/api/v4/leads", [{"name": "Ambiguous"}], timeout=0.3)
    assert time.monotonic() - started < 0.9
    listed = edge.get("/api/v4/leads?query=Ambiguous")  # served while the first answer is still held
    assert listed.status_code == 200 and [lead["name"] for lead in listed.json()["_embedded"]["leads"]] == [
        "Ambiguous"]
    assert edge.post("/api/v4/leads", [{"name": "Second"}], timeout=0.5).status_code == 200  # only once


def test_slow_responses(edge: Edge) -> None:
    edge.control("faults", {"slow_ms": 150})
    started = time.monotonic()
    assert edge.get().status_code == 200
    assert time.monotonic() - started >= 0.15


def test_html_429_mode_and_faults_at_start(tmp_path: Path) -> None:
    clock = Clock()
    app = create_sandbox_app(tmp_path / "amocrm.json", requests_per_second=2, block_after_429s=None, clock=clock,
                             faults=Faults(burst_429=1), options=SandboxOptions(rate_limit_html=True))
    with serve(app) as base_url:
        token = requests.post(f"{base_url}/_sandbox/tokens", timeout=5).json()["access_token"]
        edge = Edge(base_url, clock, token)
        first = edge.get()
        assert first.status_code == 429 and first.headers["Content-Type"].startswith("text/html")
        assert [edge.get().status_code for _ in range(3)] == [200, 200, 429]
