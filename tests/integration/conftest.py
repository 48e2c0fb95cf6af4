"""Fixtures shared by the amoCRM integration tests: Redis, and the minimal fake amoCRM over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.fakes.amocrm_min import FakeAmo, Switchboard
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


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Switchboard, str]]:
    board = Switchboard()
    with serve(board) as url:
        yield board, url


@pytest.fixture
def fake(server: tuple[Switchboard, str]) -> FakeAmo:
    """A fresh fake amoCRM account behind the module's one server."""
    board, url = server
    return board.install(FakeAmo(rate_per_s=1000), url)
