"""Load: a burst of webhooks into a running install while its workers drain to amoCRM at its limit.

Starts the amoCRM sandbox (7 requests/s, as amoCRM) and ``salonbridge run`` (gunicorn web, two RQ workers,
the clock; SQLite and the embedded Redis in a temporary folder, or with ``--database-url`` PostgreSQL in a
scratch schema dropped afterwards, as a production install runs), provisions the tenant with ``setup``, then
posts a burst of distinct bookings (20,000; ``--smoke``: 400) from 8 keep-alive connections (as fast as they
are answered, or ``--rate`` per second on a schedule) while the workers turn them into amoCRM work.
Baselines from the same run: the same burst against a bare Flask endpoint under the same gunicorn
(latency), and amoCRM's ceiling of 7 requests/s (drain). The resident memory of the web (gunicorn and
its workers) and of each worker (with its work horse) is read from /proc every half second over the burst
and the drain.

Prints:
  ``burst db=… requests=… accepted=… lost=… p99_ms=… bare_p99_ms=… p99_ratio=… rps=… load=…`` (load: the
  host's 1-minute load average before and after the burst; the figures mean little without it)
  ``drain window_s=… amocrm_rps=… utilization=… n429=… max_in_1s=… backlog_left=…``
  ``rss web_peak_mb=… worker_peak_mb=… web_growth=… worker_growth=…`` (growth: the last quarter's median
  over the first quarter's)
Exits 1 when an accepted webhook is not stored or amoCRM answered a 429. Runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
CEILING = 7.0
TENANT = """slug: load
name: Load Salon
timezone: Europe/Kyiv
branches: [{{id: "1", name: Main}}]
booking: {{source: generic, webhook_token_env: LOAD_TOKEN}}
amocrm: {{base_url: "{url}", long_lived_token_env: LOAD_AMO_TOKEN}}
"""
BARE_APP = '''
from flask import Flask, request
app = Flask(__name__)
@app.post("/hooks/<tenant>/<source>/<token>")
def hook(tenant, source, token):
    request.get_json()
    return {"status": "accepted"}, 202
'''
PATH = "/hooks/load/generic/load-t0ken-0123456789"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(i: int, clients: int) -> bytes:
    """A distinct booking of one of ``clients`` clients (so clients come back, as in a salon)."""
    c = i % clients
    day = 1 + i % 27
    return json.dumps({
        "event_id": f"load-{i}",
        "occurred_at": f"2026-03-{day:02d}T10:00:00+02:00",
        "booking": {"id": f"L{i}", "status": "scheduled", "start_at": f"2026-04-{day:02d}T12:00:00+02:00",
                    "services": [{"id": "S1", "title": "Манікюр", "category": "Манікюр", "price": 650}]},
        "client": {"id": f"C{c}", "name": f"Клієнтка {c}", "phone": f"+38067{3000000 + c:07d}"},
    }).encode()


def wait_until(ready, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not happen within {timeout_s:.0f} s")


def burst(port: int, total: int, clients: int, rate: float = 0, connections: int = 8) -> tuple[float, list[float], int]:
    """``total`` POSTs from keep-alive connections: (requests/s, latencies in ms, 2xx answers).

    ``rate`` 0: each connection sends its next request as soon as the last is answered (the most the install
    accepts; a latency there is mostly the wait behind the other connections' requests, by Little's law
    connections / throughput). ``rate`` > 0: request ``i`` is due at ``i / rate`` s whatever the answers, and its
    latency counts from that moment, so an install that falls behind pays for the requests queued behind it."""
    latencies: list[float] = []
    accepted = [0]
    lock = threading.Lock()
    numbers = iter(range(total))
    started = time.perf_counter()

    def client() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        mine, ok = [], 0
        for i in numbers:
            due = started + i / rate if rate else time.perf_counter()
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            conn.request("POST", PATH, event(i, clients), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - due) * 1000)
            ok += 200 <= response.status < 300
        conn.close()
        with lock:
            latencies.extend(mine)
            accepted[0] += ok

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - started), sorted(latencies), accepted[0]


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)


# -- resident memory from /proc ---------------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process we may read."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(pid: int, procs: dict[int, tuple[int, str]]) -> list[int]:
    found, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, (pp, _) in procs.items() if pp == parent]
        found += kids
        todo += kids
    return found


class MemorySampler(threading.Thread):
    """Every ``every_s``: the web's resident memory (gunicorn and its workers together) and the largest
    worker's (the RQ worker with its work horse), children of the ``salonbridge run`` process ``root``."""

    def __init__(self, root: int, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root, self.every_s = root, every_s
        self.web: list[float] = []
        self.worker: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            procs = _processes()
            web, workers = 0.0, [0.0]
            for pid, (parent, cmd) in procs.items():
                if parent != self.root:
                    continue
                size = sum(_rss_mb(p) for p in _tree(pid, procs))
                if "gunicorn" in cmd:
                    web += size
                elif cmd.endswith("salonbridge worker"):
                    workers.append(size)
            if web:
                self.web.append(web)
                self.worker.append(max(workers))


def growth(samples: list[float]) -> float:
    """The last quarter's median over the first quarter's: 1.0 is flat."""
    if len(samples) < 8:
        return 1.0
    quarter = len(samples) // 4
    return statistics.median(samples[-quarter:]) / statistics.median(samples[:quarter])


# -- the run ----------------------------------------------------------------------------------------------------


def measure_bare(root: Path, total: int, clients: int, rate: float, env: dict[str, str]) -> float:
    (root / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "bare_app:app"],
                              env={**env, "PYTHONPATH": str(root)}, cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: requests.post(f"http://127.0.0.1:{port}{PATH}", json={}, timeout=1).ok, "the bare server")
        burst(port, min(200, total), clients)  # warm-up
        return p99(burst(port, total, clients, rate)[1])
    finally:
        server.terminate()
        server.wait(timeout=15)


def amocrm_stats(url: str) -> dict:
    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()


def _count(database_url: str, statement: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return (result.scalar() or 0) if result.returns_rows else 0
    finally:
        engine.dispose()


def backlog_left(database_url: str) -> int:
    return _count(database_url, "SELECT count(*) FROM applied_actions WHERE state = 'pending'")


def stored(database_url: str) -> int:
    return _count(database_url, "SELECT count(*) FROM inbound_events")


def scratch_schema(database_url: str, env: dict[str, str]) -> tuple[str, str, str]:
    """PostgreSQL: a schema of its own, dropped by the caller; returns (the server's URL, the schema, its URL)."""
    from config.settings import Settings

    schema = f"load_{os.urandom(6).hex()}"
    base = Settings.from_env({**env, "DATABASE_URL": database_url}).database_url
    _count(base, f'CREATE SCHEMA "{schema}"')
    return base, schema, f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a small, quick run (CI)")
    parser.add_argument("--requests", type=int, help="webhooks in the burst (default 20,000; smoke 400)")
    parser.add_argument("--rate", type=float, default=0,
                        help="webhooks per second sent whatever the answers, latency counted from each one's due "
                             "moment (default 0: as fast as the install answers, from 8 connections)")
    parser.add_argument("--drain-s", type=float, help="seconds the drain is watched after the burst (60; smoke 10)")
    parser.add_argument("--database-url", help="PostgreSQL, e.g. postgresql://127.0.0.1:5432/test (a scratch "
                                               "schema, dropped afterwards; default: SQLite in the temporary folder)")
    parser.add_argument("--log", type=Path, help="keep the log of salonbridge run in this file")
    parser.add_argument("--log-level", default="WARNING", help="of salonbridge run (INFO: every job and sync)")
    args = parser.parse_args()
    total = args.requests or (400 if args.smoke else 20_000)
    window = args.drain_s or (10.0 if args.smoke else 60.0)
    clients = max(1, total // 4)

    with tempfile.TemporaryDirectory(prefix="sb-load-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "LOAD_TOKEN": PATH.rsplit("/", 1)[1], "SALONBRIDGE_INSTANCE": str(root / "instance"),
               "SALONBRIDGE_TENANTS": str(root / "tenants"), "SALONBRIDGE_LOG_LEVEL": args.log_level,
               "SECRET_KEY": "load-secret-key-0123456789abcdef"}
        for name in ("REDIS_URL", "DATABASE_URL", "SALONBRIDGE_LOG_JSON"):
            env.pop(name, None)
        server_url = schema = None
        if args.database_url:
            server_url, schema, env["DATABASE_URL"] = scratch_schema(args.database_url, env)
        from config.settings import Settings

        database_url = Settings.from_env(env).database_url
        bare_p99 = measure_bare(root, total, clients, args.rate, env)

        amo_port, web_port = free_port(), free_port()
        amo = f"http://127.0.0.1:{amo_port}"
        sandbox = subprocess.Popen([sys.executable, "-m", "salonbridge", "sandbox", "--port", str(amo_port)],
                                   env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run = log = None
        try:
            wait_until(lambda: requests.get(f"{amo}/_sandbox/stats", timeout=1).ok, "the amoCRM sandbox start")
            env["LOAD_AMO_TOKEN"] = requests.post(f"{amo}/_sandbox/tokens", json={"action": "long_lived"},
                                                  timeout=5).json()["access_token"]
            (root / "tenants").mkdir()
            (root / "tenants" / "load.yaml").write_text(TENANT.format(url=amo), encoding="utf-8")
            subprocess.run([sys.executable, "-m", "salonbridge", "setup", "load"], env=env, cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            log = (root / "run.log").open("wb")
            run = subprocess.Popen([sys.executable, "-m", "salonbridge", "run", "--bind", f"127.0.0.1:{web_port}",
                                    "--workers", "2"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
            wait_until(lambda: requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).ok, "the web start")
            requests.post(f"{amo}/_sandbox/reset", json={"data": False, "stats": True, "limits": True}, timeout=5)
            sampler = MemorySampler(run.pid)
            sampler.start()
            load_before = load_average()
            rps, latencies, accepted = burst(web_port, total, clients, args.rate)
            load_after = load_average()
            before, started = amocrm_stats(amo), time.monotonic()
            time.sleep(window)
            after, watched = amocrm_stats(amo), time.monotonic() - started
            sampler.halt.set()
            sampler.join()
            lost, left = max(0, accepted - stored(database_url)), backlog_left(database_url)
        finally:
            if run is not None:
                run.send_signal(2)
                run.wait(timeout=20)
            sandbox.terminate()
            sandbox.wait(timeout=15)
            if server_url is not None:
                _count(server_url, f'DROP SCHEMA "{schema}" CASCADE')
            if log is not None:
                log.close()
                if args.log:
                    args.log.write_bytes((root / "run.log").read_bytes())

    ours_p99 = p99(latencies)
    drain_rps = (after["total_requests"] - before["total_requests"]) / watched
    n429 = after["rate_limited_429"]
    db = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"burst db={db} rate={args.rate or 'max'} requests={total} accepted={accepted} lost={lost} "
          f"p99_ms={ours_p99:.1f} bare_p99_ms={bare_p99:.1f} p99_ratio={ours_p99 / bare_p99:.1f} rps={rps:.0f} "
          f"load={load_before:.1f}-{load_after:.1f}")
    print(f"drain window_s={watched:.0f} amocrm_rps={drain_rps:.2f} utilization={drain_rps / CEILING:.2f} "
          f"n429={n429} max_in_1s={after['max_requests_in_1s']} backlog_left={left}")
    print(f"rss web_peak_mb={max(sampler.web, default=0):.0f} worker_peak_mb={max(sampler.worker, default=0):.0f} "
          f"web_growth={growth(sampler.web):.2f} worker_growth={growth(sampler.worker):.2f} "
          f"samples={len(sampler.web)}")
    if lost or accepted != total or n429:
        raise SystemExit("a webhook was not accepted and stored, or amoCRM answered 429")


if __name__ == "__main__":
    main()
