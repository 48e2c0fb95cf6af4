"""`salonbridge run` as an install meets the world: Redis stopped for 30 s mid-burst, a worker killed with
SIGKILL. The web answers every delivery, no process is lost, every stored event is processed afterwards,
and the log says each outage in a line or two instead of tracebacks.

Each test runs its own redis-server on a free port (never the shared one) and its own SQLite file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bridge.store import stats
from bridge.store.db import Store
from config.settings import Settings
from salonbridge.demo import free_port
from tests.conftest import TENANT_YAML, TOKEN, TOKEN_ENV
from tests.helpers import yclients_record
from tests.processes import children, redis_server, salonbridge_run, start_redis, stop_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary"),
]


@pytest.fixture
def install(tmp_path: Path) -> Iterator[dict]:
    """An install's environment: own redis-server, own SQLite, the test tenant."""
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "salon.yaml").write_text(TENANT_YAML, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "SALONBRIDGE_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'salonbridge.db'}",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "SALONBRIDGE_TENANTS": str(tenants),
        "SALONBRIDGE_SWEEP_AFTER_S": "1",
        "SALONBRIDGE_ACCESS_LOG": "1",
        "SECRET_KEY": "outage-test-secret-key-0123456789",
        TOKEN_ENV: TOKEN,
    }
    env.pop("SALONBRIDGE_LOG_JSON", None)
    with redis_server(port, tmp_path) as server:
        yield {"env": env, "redis_port": port, "redis": server, "dir": tmp_path}


class Poster(threading.Thread):
    """Posts distinct bookings at a steady pace until stopped; counts the answers."""

    def __init__(self, base: str, first_id: int, every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.base, self.next_id, self.every_s = base, first_id, every_s
        self.answers: Counter = Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            n = self.next_id
            self.next_id += 1
            body = yclients_record(record_id=n, client_id=n, phone=f"+38067{n % 10_000_000:07d}")
            try:
                status = requests.post(f"{self.base}/hooks/salon/yclients/{TOKEN}", json=body, timeout=15).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.answers[status] += 1
            self.halt.wait(self.every_s)


def settle(env: dict, expected: int, timeout_s: float) -> tuple[dict[str, int], float]:
    store = Store(Settings.from_env(env).database_url)
    started = time.monotonic()
    try:
        while True:
            by_status = stats.events_by_status(store)
            if by_status == {"done": expected} or time.monotonic() - started > timeout_s:
                return by_status, time.monotonic() - started
            time.sleep(0.5)
    finally:
        store.dispose()


def test_redis_stopped_for_30_s_under_run_every_delivery_answered_no_process_lost_every_event_done(install):
    log = install["dir"] / "run.log"
    with salonbridge_run(install["env"], log) as (run, base):
        before = children(run)
        poster = Poster(base, 1_000_000)
        poster.start()
        time.sleep(3)
        stop_redis(install["redis"])
        time.sleep(30)
        assert run.poll() is None and children(run) == before, "a process exited during the outage"
        install["redis"] = start_redis(install["redis_port"], install["dir"])
        time.sleep(5)
        poster.halt.set()
        poster.join()
        posted = sum(poster.answers.values())
        by_status, settled_s = settle(install["env"], posted, timeout_s=60)
        after = children(run)
    text = log.read_text(errors="replace")
    print(f"posted {posted}: {dict(poster.answers)}; settled {settled_s:.1f} s after the burst: {by_status}")
    assert set(poster.answers) == {202}, poster.answers
    assert by_status == {"done": posted}
    assert after == before, "a process was restarted"
    assert "Traceback" not in text
    # one line when the outage starts and one when it ends, per process (2 web, 2 workers, clock)
    assert 1 <= text.count("Redis is unreachable") <= 5, text.count("Redis is unreachable")
    assert 1 <= text.count("Redis answers again") <= 5
    assert run.returncode == 0


def test_a_worker_killed_with_sigkill_under_run_is_started_again_and_the_web_never_stops(install):
    log = install["dir"] / "run.log"
    failures: list[str] = []
    with salonbridge_run(install["env"], log) as (run, base):
        halt = threading.Event()

        def probe() -> None:
            while not halt.is_set():
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code >= 500:
                        failures.append("5xx")
                except requests.RequestException as exc:
                    failures.append(type(exc).__name__)
                halt.wait(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        poster = Poster(base, 2_000_000, every_s=0.1)
        poster.start()
        before = children(run)
        victim = next(pid for pid, args in before.items() if args.endswith("salonbridge worker"))
        time.sleep(2)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 15
        while time.monotonic() < deadline:
            now = children(run)
            if len([a for a in now.values() if a.endswith("salonbridge worker")]) == 2 and victim not in now:
                break
            time.sleep(0.2)
        restarted_s = time.monotonic() - killed_at
        time.sleep(3)
        poster.halt.set()
        poster.join()
        halt.set()
        prober.join()
        posted = sum(poster.answers.values())
        by_status, _ = settle(install["env"], posted, timeout_s=60)
        assert run.poll() is None
    print(f"worker started again {restarted_s:.1f} s after SIGKILL; {posted} posted: {dict(poster.answers)}")
    assert restarted_s < 5
    assert failures == []
    assert set(poster.answers) == {202}
    assert by_status == {"done": posted}
    assert "exited (killed by SIGKILL); starting it again" in log.read_text()


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def private_postgres() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A PostgreSQL cluster of this test's own on a free port: (url, stop, start). Its folder is outside
    pytest's (which the postgres user may not enter)."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl")
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("running as root without a postgres user")
    folder = Path(tempfile.mkdtemp(prefix="salonbridge-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres"]), check=True,
                   capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"

    def start() -> None:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "pg.log"), "-w",
                                     "start"]), check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True)

    start()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", stop, start
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_database_stopped_under_run_no_process_lost_one_line_each_way_and_work_resumes(install):
    pytest.importorskip("psycopg")
    log = install["dir"] / "run.log"
    with private_postgres() as (url, stop_db, start_db):
        env = {**install["env"], "DATABASE_URL": url}
        with salonbridge_run(env, log) as (run, base):
            before = children(run)
            first = Poster(base, 3_000_000, every_s=0.1)
            first.start()
            time.sleep(2)
            first.halt.set()
            first.join()
            stop_db()
            during = Poster(base, 3_100_000, every_s=0.2)
            during.start()
            time.sleep(15)
            during.halt.set()
            during.join()
            assert run.poll() is None and children(run) == before, "a process exited during the outage"
            start_db()
            after = Poster(base, 3_200_000, every_s=0.1)
            after.start()
            time.sleep(2)
            after.halt.set()
            after.join()
            stored = first.answers[202] + after.answers[202] + during.answers[202]
            by_status, settled_s = settle(env, stored, timeout_s=90)
            assert children(run) == before
    text = log.read_text(errors="replace")
    print(f"during the outage: {dict(during.answers)}; {stored} stored, settled in {settled_s:.1f} s: {by_status}")
    assert set(first.answers) == {202} and set(after.answers) == {202}
    assert set(during.answers) <= {202, 503}  # refused for a retry, never lost after a 2xx
    assert by_status == {"done": stored}
    assert "Traceback" not in text
    assert 1 <= text.count("the database is unreachable") <= 6
    assert 1 <= text.count("the database answers again") <= 6
