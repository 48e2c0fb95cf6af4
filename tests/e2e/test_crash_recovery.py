"""Processes as they run in production: a worker killed with SIGKILL mid-job, and `salonbridge run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import requests
from rq import Worker
from rq.job import Job

from bridge import intake
from bridge.queue import job_id_for_event
from bridge.store import locks, stats
from jobs.process_event import client_lock_name, handle_event
from salonbridge.demo import free_port
from tests.conftest import TOKEN
from tests.helpers import yclients_record

pytestmark = pytest.mark.slow


def spawn(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, **settings.to_env()}
    return subprocess.Popen(
        [sys.executable, "-m", "salonbridge", *args], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@contextmanager
def running(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Stop the process group however the test ends, so no worker outlives its test."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_a_job_of_a_worker_killed_mid_job_runs_again_and_completes(services):
    tenant = services.tenants["salon"]
    event = intake.normalize("yclients", yclients_record(), tenant, datetime.now(UTC))
    receipt = intake.store_event(services.store, event, datetime.now(UTC))  # queued once the worker is up
    job_id = job_id_for_event(receipt.event_id)
    with running(spawn(services.settings, "worker")) as first:
        wait_for(lambda: Worker.count(connection=services.queue.connection), 20, "the worker to start")
        # Hold the client's lock so the job is provably mid-way when the worker dies.
        with services.store.session() as held:
            locks.hold(held, client_lock_name(event))
            services.queue.enqueue_event(receipt.event_id)
            job = Job.fetch(job_id, connection=services.queue.connection)
            wait_for(lambda: job.get_status(refresh=True) == "started", 20, "the job to start")
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        killed_at = time.monotonic()
    with running(spawn(services.settings, "worker")):
        wait_for(lambda: stats.events_by_status(services.store) == {"done": 1}, 60, "the job to run again")
        recovered_s = time.monotonic() - killed_at
    assert recovered_s < 45
    assert stats.counts(services.store, "salon")["visits"] == {"scheduled": 1}
    assert job.get_status(refresh=True) == "finished"


def test_workers_that_ran_jobs_stop_within_seconds_of_sigterm(services):
    """A deploy or Ctrl-C must not wait a minute per worker (RQ's command listener once held them)."""
    tenant = services.tenants["salon"]
    for i in range(6):
        body = yclients_record(record_id=9000 + i)
        intake.receive(services.store, services.queue, tenant, "yclients", body, datetime.now(UTC))
    workers = [spawn(services.settings, "worker") for _ in range(3)]
    try:
        wait_for(lambda: stats.events_by_status(services.store) == {"done": 6}, 60, "the events to be processed")
        time.sleep(1)  # the workers are back to waiting on the queue, as after any busy spell
        for proc in workers:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in workers:
            proc.wait(timeout=10)
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert [proc.returncode for proc in workers] == [0, 0, 0]


def test_run_starts_web_worker_and_clock_and_ctrl_c_stops_them_all(settings, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "salonbridge", "run", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env={**os.environ, **settings.to_env()}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base), 30, "the web server")
        answer = requests.post(f"{base}/hooks/salon/yclients/{TOKEN}", json=yclients_record(), timeout=5)
        assert answer.status_code == 202
        metrics = wait_for(lambda: _processed(base), 30, "the event to be processed")
        assert 'salonbridge_events{status="done",tenant="salon"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    children = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children == [], f"left running: {children}"
    assert proc.returncode == 0


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).ok
    except requests.RequestException:  # not listening yet, or a worker still booting
        return False


def _processed(base: str) -> str | None:
    text = requests.get(f"{base}/metrics", timeout=2).text
    return text if 'salonbridge_events{status="done",tenant="salon"}' in text else None


HOLD_CLIENT_LOCK = """
import time
from datetime import UTC, datetime
from bridge import intake
from bridge.services import Services
from bridge.store import locks
from config.settings import Settings
from jobs.process_event import client_lock_name
from tests.helpers import yclients_record
svc = Services.build(Settings.from_env())
event = intake.normalize("yclients", yclients_record(), svc.tenants["salon"], datetime.now(UTC))
with svc.store.session() as s:
    locks.hold(s, client_lock_name(event))
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_workers_client_lock_frees_at_once_and_a_running_job_keeps_it(services):
    receipt = intake.receive(services.store, services.queue, services.tenants["salon"], "yclients",
                             yclients_record(), datetime.now(UTC))
    env = {**os.environ, **services.settings.to_env()}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CLIENT_LOCK], env=env, stdout=subprocess.PIPE,
                              start_new_session=True)
    with running(holder):
        assert holder.stdout.readline().strip() == b"held"
        waiting = threading.Thread(target=handle_event, args=(services, receipt.event_id, datetime.now(UTC)),
                                   daemon=True)
        waiting.start()
        time.sleep(3)
        assert waiting.is_alive()  # the person's next event waits for the job holding the lock
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        killed_at = time.monotonic()
    waiting.join(10)
    freed_s = time.monotonic() - killed_at
    print(f"the waiting event went on {freed_s:.1f} s after the lock's holder was killed")
    assert not waiting.is_alive()
    assert freed_s < 3
    assert stats.events_by_status(services.store) == {"done": 1}
