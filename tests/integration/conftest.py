"""Fixtures shared by the amoCRM integration tests: Redis, and amoCRM itself — a fresh account of the
sandbox (``amocrm_sandbox``) per test, behind one sandbox server per module, over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from werkzeug.datastructures import MultiDict

from amocrm_sandbox import SandboxOptions, SandboxServer
from amocrm_sandbox.runtime import Runtime
from tests.fakes.http import serve

REDIS_DB = 14  # the amoCRM tests' own database
RUN = uuid.uuid4().hex[:8]  # in every key and tenant name, so concurrent test runs never share state


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        client.ping()
    except RedisConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    yield client  # not flushed: keys are unique to this run and expire, so parallel runs don't collide
    for key in client.scan_iter(f"*{RUN}*"):
        client.delete(key)
    client.close()


@dataclass
class Hit:
    """One request as the sandbox's journal saw it arrive."""

    at: float  # the sandbox's monotonic clock
    method: str
    path: str
    args: MultiDict
    body: Any
    token: str | None
    status: int


@dataclass
class Amo:
    """One sandbox account: its base URL, a long-lived token, and its ``/_sandbox`` controls."""

    url: str
    token: str
    runtime: Runtime  # in-process access, for what HTTP cannot do (a listener on arrivals)

    def control(self, path: str, body: Any = None, method: str | None = None) -> Any:
        method = method or ("GET" if body is None else "POST")
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=30)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def calls(self, method: str | None = None, path: str | None = None) -> list[Hit]:
        params = {k: v for k, v in (("method", method), ("path", path)) if v}
        return [Hit(c["at"], c["method"], c["path"], MultiDict([tuple(a) for a in c["args"]]), c["body"], c["token"],
                    c["status"])
                for c in requests.get(f"{self.url}/_sandbox/requests", params=params, timeout=10).json()["requests"]]

    def step(self, request: str, **what: Any) -> None:
        """Script the next request matching ``request`` ("POST /api/v4/leads"): status, retry_after,
        html, body, delay_seconds, hang_seconds."""
        self.control("steps", {"request": request, **what})

    def stored(self, table: str) -> list[dict[str, Any]]:
        return self.control(f"data/{table}")[table]

    def by_id(self, table: str) -> dict[int, dict[str, Any]]:
        return {row["id"]: row for row in self.stored(table)}

    def issued(self) -> list[tuple[str, str]]:
        """(access, refresh) pairs in issue order: minted, exchanged for a code, refreshed."""
        return [(p["access_token"], p["refresh_token"]) for p in self.control("tokens", {"action": "issued"})["issued"]]

    def refresh_calls(self) -> int:
        return sum(1 for h in self.calls("POST", "/oauth2/access_token")
                   if isinstance(h.body, dict) and h.body.get("grant_type") == "refresh_token")

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A call with the account's token, outside the client under test (for setting the scene)."""
        response = requests.request(method, self.url + path, json=body, timeout=10,
                                    headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code < 400, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SandboxServer, str]]:
    board = SandboxServer()
    with serve(board) as url:
        yield board, url


@pytest.fixture
def new_account(server: tuple[SandboxServer, str]) -> Iterator[Callable[..., Amo]]:
    """Make fresh accounts behind the module's one server: ``new_account(requests_per_second=7, …)``
    (``SandboxOptions`` fields; the limiter is off and never blocks unless asked)."""
    board, url = server
    made: list[str] = []

    def make(**options: Any) -> Amo:
        options = {"requests_per_second": 1000.0, "block_after_429s": None, **options}
        app = board.add(options=SandboxOptions(**options))
        sub = app.extensions["amocrm_sandbox"].options.subdomain
        made.append(sub)
        base = f"{url}/a/{sub}"
        token = requests.post(f"{base}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
        return Amo(base, token["access_token"], board.runtime(sub))

    yield make
    for sub in made:
        board.drop(sub)


@pytest.fixture
def amo(new_account: Callable[..., Amo]) -> Amo:
    """A fresh amoCRM account behind the module's one sandbox server."""
    return new_account()
