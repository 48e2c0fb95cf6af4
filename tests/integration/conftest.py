"""Fixtures shared by the amoCRM integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

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
