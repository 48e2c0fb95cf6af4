"""One request budget per amoCRM account, shared by every process through Redis (GCRA, burst 0).

amoCRM allows 7 requests/s and escalates repeated 429s to a 403 block that only its support lifts, so
every worker of every host must draw from the same budget. GCRA keeps a single "theoretical arrival
time" (TAT) per account; a Lua script atomically reserves the next slot and says how long to wait.
Redis server TIME is used so hosts with skewed clocks still agree.

GCRA spaces the *grants*; amoCRM counts *arrivals*, and a process that is not scheduled for a while
between its grant and its request (a busy host) arrives late, into the next requests' second. So a
granted request is also *admitted* right before it is sent: the account's last ``floor(rate)`` requests
are kept with the time each is known to have arrived by (its answer; while it is in flight, its lease),
and a request goes only when the oldest of them arrived more than a second ago. Every request arrives
after its admission and before its answer, so no second ever holds more than ``floor(rate)`` arrivals,
however late any process is; what it costs is one request's round trip per second of budget.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import RedisError

from bridge.amocrm.errors import RateLimited

log = logging.getLogger(__name__)

# KEYS[1] tat key; ARGV[1] emission interval µs; ARGV[2] longest wait worth reserving µs.
# Returns {reserved 0|1, wait µs}. Numbers are formatted with %.0f: Lua's default number→string
# conversion keeps only 14 digits, which would corrupt a µs timestamp. Each granted slot is also
# counted in ``<key>:used:<minute of Redis TIME>`` (kept two minutes) for the dashboard's rate use.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, string.format('%.0f', wait)} end
local new_tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
local used = KEYS[1] .. ':used:' .. math.floor(tonumber(t[1]) / 60)
redis.call('INCR', used)
redis.call('EXPIRE', used, 120)
return {1, string.format('%.0f', wait)}
"""

# KEYS[1] sent key (sorted set: ticket → µs by which the request has arrived); ARGV[1] requests per
# window; ARGV[2] window µs; ARGV[3] ticket; ARGV[4] lease µs (the longest a request can take).
# Returns {admitted 0|1, wait µs}: while the window is full, the wait until its oldest request leaves it
# (or a short poll when that one is still in flight).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  if oldest > now then return {0, '20000'} end
  return {0, string.format('%.0f', oldest + window - now + 1)}
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[4])), ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[4]) + window) / 1000) + 1000)
return {1, '0'}
"""

# KEYS[1] sent key; ARGV[1] ticket. The request has been answered (or given up on): it arrived by now.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now), ARGV[1])
return 1
"""

# KEYS[1] tat key; ARGV[1] penalty µs. Moves the TAT to now+penalty unless it is already later.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local target = now + tonumber(ARGV[1])
if target > tat then
  redis.call('SET', KEYS[1], string.format('%.0f', target), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
  tat = target
end
return string.format('%.0f', tat - now)
"""


class Limiter(Protocol):
    """What the client needs from a limiter (tests and the sandbox may pass their own)."""

    def acquire(self) -> str | None:
        """Wait for a request slot; returns the ticket ``release`` takes once the request has ended."""

    def release(self, ticket: str | None) -> None:
        """The request of ``ticket`` has been answered, or given up on."""

    def penalize(self, seconds: float) -> None: ...


def limiter_key(base_url: str) -> str:
    """Redis key of an account's budget: one per amoCRM host, whichever tenant or process asks."""
    host = urlsplit(base_url).netloc.lower() or base_url.lower()
    return f"amocrm:rl:{host}"


class RedisRateLimiter:
    """GCRA limiter over Redis; ``acquire()`` blocks for short waits, raises RateLimited for long ones.

    ``margin_s`` widens the spacing between grants (default none). It used to be the only guard against
    jitter: 4 processes at exactly 7/s put 8 arrivals into one second, and a 15 ms margin (8 consecutive
    grants 1.10 s apart) absorbed up to 100 ms of it but capped the drain near 0.90 of the limit and still
    drew 429s from a process not scheduled for longer on a busy host. The admission (module docstring)
    makes the limit hold whatever the delay, and without a margin the drain reached 0.97 of the limit.
    ``lease_s`` is how long a request whose process died before its answer keeps its place in the second.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        rate_per_s: float = 7.0,
        *,
        max_wait_s: float = 2.0,
        margin_s: float = 0.0,
        lease_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate_per_s <= 0:
            raise ValueError("rate_per_s: please give a rate above 0")
        self.key = key
        self.interval_s = 1.0 / rate_per_s + margin_s
        self.per_window = max(1, math.floor(rate_per_s))
        self.lease_s = lease_s
        self.max_wait_s = max_wait_s
        self._acquire = redis.register_script(_ACQUIRE)
        self._admit = redis.register_script(_ADMIT)
        self._release = redis.register_script(_RELEASE)
        self._penalize = redis.register_script(_PENALIZE)
        self._sleep = sleep

    @classmethod
    def for_account(cls, redis: Redis, base_url: str, rate_per_s: float = 7.0, **kwargs: Any) -> RedisRateLimiter:
        return cls(redis, limiter_key(base_url), rate_per_s, **kwargs)

    def reserve(self, max_wait_s: float) -> tuple[bool, float]:
        """Reserve the next slot if it is at most ``max_wait_s`` away; returns (reserved, wait seconds)."""
        reserved, wait_us = self._acquire(keys=[self.key], args=[_us(self.interval_s), _us(max_wait_s)])
        return bool(int(reserved)), int(wait_us) / 1e6

    def acquire(self) -> str:
        """Take one request slot, sleeping until it comes and until the request is admitted; returns the
        ticket to ``release`` once the request has ended."""
        reserved, wait = self.reserve(self.max_wait_s)
        if not reserved:
            raise RateLimited(wait, f"amoCRM budget {self.key} is exhausted")
        if wait > 0:
            self._sleep(wait)
        ticket = uuid.uuid4().hex
        while True:
            admitted, wait_us = self._admit(keys=[self.key + ":sent"],
                                            args=[self.per_window, 1_000_000, ticket, _us(self.lease_s)])
            if int(admitted):
                return ticket
            self._sleep(int(wait_us) / 1e6)

    def release(self, ticket: str | None) -> None:
        """The request of ``ticket`` has ended: it reached amoCRM, if at all, by now."""
        if ticket is None:
            return
        try:
            self._release(keys=[self.key + ":sent"], args=[ticket])
        except RedisError:  # the answer is what counts; the place frees itself when its lease ends
            log.warning("amoCRM budget %s: a request's end was not recorded (Redis unavailable)", self.key)

    def penalize(self, seconds: float) -> None:
        """Push every process of this account back by ``seconds`` (after a 429)."""
        self._penalize(keys=[self.key], args=[_us(max(0.0, seconds))])


@dataclass(frozen=True)
class Usage:
    """Requests granted from an account's budget over the last ``seconds`` (the previous and current minute)."""

    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def usage(redis: Redis, base_url: str) -> Usage:
    """How much of the account's budget every process drew lately (the counts ``acquire`` keeps per minute)."""
    now_s, now_us = redis.time()
    minute = now_s // 60
    key = limiter_key(base_url) + ":used:"
    counts = redis.mget([f"{key}{minute - 1}", f"{key}{minute}"])
    return Usage(sum(int(c) for c in counts if c is not None), 60 + now_s % 60 + now_us / 1e6)


def _us(seconds: float) -> int:
    return math.ceil(seconds * 1_000_000)


def _text(value: bytes | str) -> str:
    """Redis clients may or may not decode responses."""
    return value.decode() if isinstance(value, bytes) else value


# --- tenant pause flags (403 blocks) -------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    until: datetime
    reason: str


def _pause_key(tenant: str) -> str:
    return f"amocrm:pause:{tenant}"


def pause(redis: Redis, tenant: str, until: datetime, reason: str) -> None:
    """Stop amoCRM work of a tenant until ``until`` (the job layer also records it in TenantState)."""
    if until.tzinfo is None:
        raise ValueError("until: please give an aware datetime")
    key = _pause_key(tenant)
    with redis.pipeline() as pipe:
        pipe.hset(key, mapping={"until": until.timestamp(), "reason": reason})
        pipe.expireat(key, math.ceil(until.timestamp()))
        pipe.execute()


def get_pause(redis: Redis, tenant: str, now: datetime | None = None) -> Pause | None:
    """The tenant's active pause, if any."""
    raw = {_text(k): _text(v) for k, v in redis.hgetall(_pause_key(tenant)).items()}
    if "until" not in raw:
        return None
    until = datetime.fromtimestamp(float(raw["until"]), UTC)
    if until <= (now or datetime.now(UTC)):
        return None
    return Pause(until, raw.get("reason", ""))


def paused_until(redis: Redis, tenant: str) -> datetime | None:
    found = get_pause(redis, tenant)
    return found.until if found else None


def resume(redis: Redis, tenant: str) -> None:
    """Lift a pause early (after amoCRM support unblocked the account)."""
    redis.delete(_pause_key(tenant))
