"""Processes as they run in production: a worker killed with SIGKILL mid-job, and `salonbridge run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import requests
from rq.job import Job

from bridge import intake
from bridge.queue import job_id_for_event
from bridge.store import stats
from jobs.process_event import client_lock_name
from pipelines.events import VisitEvent
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
    body = yclients_record()
    receipt = intake.receive(services.store, services.queue, tenant, "yclients", body, datetime.now(UTC))
    event = VisitEvent.from_dict(intake.normalize("yclients", body, tenant, datetime.now(UTC)).to_dict())
    # Hold the client's lock so the job is provably mid-way when the worker dies.
    held = services.queue.connection.lock(client_lock_name(event), timeout=60)
    assert held.acquire(blocking=False)
    job = Job.fetch(job_id_for_event(receipt.event_id), connection=services.queue.connection)
    with running(spawn(services.settings, "worker")) as first:
        wait_for(lambda: job.get_status(refresh=True) == "started", 20, "the job to start")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed_at = time.monotonic()
    held.release()
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
import sys, time
from datetime import UTC, datetime
from bridge import intake
from bridge.services import Services
from config.settings import Settings
from jobs.process_event import _client_lock
from tests.helpers import yclients_record
svc = Services.build(Settings.from_env())
event = intake.normalize("yclients", yclients_record(), svc.tenants["salon"], datetime.now(UTC))
with _client_lock(svc, event):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_workers_client_lock_frees_itself_within_its_ttl_and_a_running_job_keeps_it(services):
    from jobs.process_event import CLIENT_LOCK_TTL_S

    tenant = services.tenants["salon"]
    event = intake.normalize("yclients", yclients_record(), tenant, datetime.now(UTC))
    name = client_lock_name(event)
    env = {**os.environ, **services.settings.to_env()}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CLIENT_LOCK], env=env, stdout=subprocess.PIPE,
                              start_new_session=True)
    with running(holder):
        assert holder.stdout.readline().strip() == b"held"
        time.sleep(CLIENT_LOCK_TTL_S + 3)  # longer than the lock lives: renewed while its holder runs
        assert services.queue.connection.exists(name)
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        killed_at = time.monotonic()
    wait_for(lambda: not services.queue.connection.exists(name), CLIENT_LOCK_TTL_S + 5, "the lock to free itself")
    freed_s = time.monotonic() - killed_at
    print(f"client lock freed {freed_s:.1f} s after its holder was killed (TTL {CLIENT_LOCK_TTL_S} s)")
    assert freed_s <= CLIENT_LOCK_TTL_S + 1
