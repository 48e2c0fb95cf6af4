"""The shared GCRA limiter on a real Redis (db 14) with several processes, and the tenant pause flags."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from bridge.amocrm import AmoCrmClient, RateLimited, RedisRateLimiter, StaticTokenProvider
from bridge.amocrm.ratelimit import get_pause, limiter_key, pause, paused_until, resume
from tests.integration.conftest import REDIS_DB, RUN, Amo


def redis_client() -> Redis:
    return Redis(host="127.0.0.1", port=6379, db=REDIS_DB)


@pytest.fixture
def fake(new_account) -> Amo:
    return new_account(requests_per_second=7)  # answers 429 to the 8th request inside any second, like amoCRM


def key_of(amo: Amo) -> str:
    """The account's limiter key, made unique to this test (the module's accounts share one host)."""
    return f"{limiter_key(amo.url)}:{RUN}:{uuid.uuid4().hex[:6]}"


def burst(url: str, token: str, key: str, requests: int, start_at: float) -> None:
    """One worker process: its own Redis connection, limiter and client; fires as fast as allowed."""
    limiter = RedisRateLimiter(redis_client(), key, rate_per_s=7.0)
    client = AmoCrmClient(url, StaticTokenProvider(token), limiter=limiter, max_retries=0)
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(requests):
        client.account()


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


@pytest.mark.slow
def test_four_bursting_processes_stay_within_7_per_second(redis, fake):
    """The server sees ≤ 7 requests in every 1-second window and never answers 429."""
    ctx = multiprocessing.get_context("fork")  # like RQ's work-horses
    key = key_of(fake)
    start_at = time.time() + 0.3
    workers = [ctx.Process(target=burst, args=(fake.url, fake.token, key, 6, start_at)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    hits = fake.calls("GET", "/api/v4/account")
    assert len(hits) == 24
    assert [h.status for h in hits] == [200] * 24
    arrivals = [h.at for h in hits]
    assert max_in_any_second(arrivals) <= 7
    assert max(arrivals) - min(arrivals) >= 23 / 7  # the budget was actually the limit


class LateAfterGrant(RedisRateLimiter):
    """A process descheduled for ``late_s`` between its grant and its request (a busy host), every
    ``every``-th request; ``admitting=False`` leaves out the admission, as the limiter was before it."""

    def __init__(self, *args, late_s: float, every: int, admitting: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.late_s, self.every, self.admitting, self.calls = late_s, every, admitting, 0

    def reserve(self, max_wait_s: float) -> tuple[bool, float]:
        reserved, wait = super().reserve(max_wait_s)
        self.calls += 1
        if reserved and self.calls % self.every == 1:
            time.sleep(wait)  # the slot comes, and the process is not scheduled for a while
            return reserved, self.late_s
        return reserved, wait

    def acquire(self) -> str | None:
        return super().acquire() if self.admitting else str(self.reserve(self.max_wait_s))


def late_bursts(url: str, token: str, key: str, admitting: bool, start_at: float) -> list[int]:
    limiter = LateAfterGrant(redis_client(), key, rate_per_s=7.0, margin_s=0.0, late_s=0.35, every=4,
                             admitting=admitting)
    client = AmoCrmClient(url, StaticTokenProvider(token), limiter=limiter, max_retries=0)
    time.sleep(max(0.0, start_at - time.time()))
    statuses = []
    for _ in range(8):
        try:
            client.account()
            statuses.append(200)
        except RateLimited:
            statuses.append(429)
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("admitting", [True, False], ids=["admitted", "without-admission"])
def test_requests_that_arrive_late_after_their_grant_never_make_a_429(redis, fake, admitting):
    """Three processes, each late by 350 ms after every fourth grant: arrivals bunch into one second.
    The admission keeps every second at 7 arrivals at most; without it the same run draws 429s."""
    key = key_of(fake)
    start_at = time.time() + 0.3
    with multiprocessing.get_context("fork").Pool(3) as pool:
        runs = pool.starmap(late_bursts, [(fake.url, fake.token, key, admitting, start_at)] * 3)
    hits = fake.calls("GET", "/api/v4/account")
    if admitting:
        assert [h.status for h in hits] == [200] * 24 and runs == [[200] * 8] * 3
        assert max_in_any_second([h.at for h in hits]) <= 7
        assert len(hits) / (max(h.at for h in hits) - min(h.at for h in hits)) > 5.0  # still near the limit
    else:
        assert 429 in [h.status for h in hits]


def test_penalize_pushes_back_every_limiter_of_the_account(redis):
    """Another process's limiter (a second instance) must wait out the penalty."""
    key = limiter_key(f"https://salon-{RUN}.amocrm.ru")
    waited: list[float] = []
    other = RedisRateLimiter(redis, key, sleep=waited.append)
    RedisRateLimiter(redis, key).penalize(1.5)
    other.acquire()
    assert 1.4 <= waited[0] <= 1.5
    assert RedisRateLimiter(redis, limiter_key(f"https://other-{RUN}.kommo.com")).reserve(0) == (True, 0.0)


def test_a_wait_longer_than_max_wait_is_raised_without_taking_a_slot(redis):
    limiter = RedisRateLimiter(redis, f"amocrm:rl:test-{RUN}", max_wait_s=0.5)
    limiter.penalize(3)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire()
    assert 2.5 < caught.value.retry_in <= 3
    assert limiter.reserve(0)[0] is False  # nothing was reserved by the refused call


def test_slots_are_spaced_by_the_rate(redis):
    limiter = RedisRateLimiter(redis, f"amocrm:rl:spacing-{RUN}", rate_per_s=5.0, margin_s=0.0)
    waits = [limiter.reserve(10)[1] for _ in range(4)]
    assert waits[0] == 0.0
    assert [round(w, 1) for w in waits[1:]] == [0.2, 0.4, 0.6]


def test_a_429_pushes_back_other_processes(redis, fake):
    """The client that got the 429 penalizes the shared key before raising/sleeping."""
    key = key_of(fake)
    fake.step("GET /api/v4/users", status=429, retry_after="2")
    client = AmoCrmClient(
        fake.url, StaticTokenProvider(fake.token), limiter=RedisRateLimiter(redis, key), max_sleep_s=0.5
    )
    with pytest.raises(RateLimited):
        client.list_users()
    reserved, wait = RedisRateLimiter(redis, key).reserve(0)
    assert reserved is False and 1.8 <= wait <= 2.0


def test_pause_flags_per_tenant(redis):
    salon, other = f"salon-{RUN}", f"other-{RUN}"
    until = datetime.now(UTC) + timedelta(minutes=5)
    assert paused_until(redis, salon) is None
    pause(redis, salon, until, "amoCRM answered 403 (blocked)")
    assert abs((paused_until(redis, salon) - until).total_seconds()) < 0.01
    assert get_pause(redis, salon).reason == "amoCRM answered 403 (blocked)"
    assert paused_until(redis, other) is None
    assert 290 <= redis.ttl(f"amocrm:pause:{salon}") <= 301  # the flag expires by itself
    resume(redis, salon)
    assert paused_until(redis, salon) is None
    pause(redis, salon, datetime.now(UTC) - timedelta(seconds=1), "old")
    assert paused_until(redis, salon) is None
