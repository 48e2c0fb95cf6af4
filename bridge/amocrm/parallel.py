"""A few amoCRM lookups in flight at once, so one answer that never comes does not hold up the rest.

Lookups (a phone search, an earlier attempt found again by its marker) are independent GETs; sent one
after another, a single lost answer idles the account's whole budget until the read timeout. With a
few in flight the shared limiter still sets the pace, and the others go on meanwhile.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
IN_FLIGHT = 3  # enough to cover a lost answer; the limiter, not the threads, sets the rate


def each(fn: Callable[[T], R], items: Sequence[T], in_flight: int = IN_FLIGHT) -> list[R]:
    """``[fn(item) for item in items]`` with up to ``in_flight`` calls at a time; the first error is raised
    once every call has ended (the job's log context goes along to each thread)."""
    if len(items) <= 1 or in_flight <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(in_flight, len(items)), thread_name_prefix="amocrm-lookup") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
    return [future.result() for future in futures]
