"""``salonbridge worker``: an RQ worker on the salonbridge queue with this process's Services installed."""

from __future__ import annotations

from bridge.queue import make_worker
from bridge.services import Services
from jobs import context


def run_worker(svc: Services, *, burst: bool = False, name: str | None = None) -> bool:
    """Work until stopped (or, with ``burst``, until the queue is empty)."""
    context.install(svc)
    worker = make_worker(svc.queue, name=name)
    return worker.work(burst=burst, with_scheduler=True, logging_level=svc.settings.log_level)
