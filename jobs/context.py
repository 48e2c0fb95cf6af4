"""The current process's Services, set by the worker entry point before it takes jobs.

RQ calls job functions by dotted name with plain arguments, so the adapters they need are kept here
instead of being rebuilt per job. A forked work-horse drops inherited DB connections on first use.
"""

from __future__ import annotations

import os

from bridge.services import Services

_current: Services | None = None
_pid: int | None = None


def install(services: Services) -> None:
    global _current, _pid
    _current, _pid = services, os.getpid()


def current() -> Services:
    global _pid
    if _current is None:
        raise RuntimeError("no services installed: jobs run inside `salonbridge worker`")
    if _pid != os.getpid():
        _current.after_fork()
        _pid = os.getpid()
    return _current
