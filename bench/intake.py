"""Intake throughput: our webhook endpoint under gunicorn vs a bare Flask endpoint, same run, same client.

Prints ``intake_ratio=<ours/bare req/s> p99_ms=<ours> lost=<2xx answers without a stored event>``.
Goal: ratio >= 0.5, p99 < 25 ms, lost = 0. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

BARE_APP = '''
from flask import Flask, request
app = Flask(__name__)
@app.post("/hooks/<tenant>/<source>/<token>")
def hook(tenant, source, token):
    request.get_json()
    return {"status": "accepted"}, 202
'''

TENANT = """slug: bench
name: Bench
timezone: Europe/Kyiv
branches: [{id: "1", name: Main}]
booking: {source: generic, webhook_token_env: BENCH_TOKEN}
amocrm: {base_url: "http://127.0.0.1:9"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(i: int) -> bytes:
    return json.dumps({
        "event_id": f"bench-{i}",
        "occurred_at": "2026-03-01T10:00:00+02:00",
        "booking": {"id": f"B{i}", "status": "scheduled", "start_at": "2026-03-05T12:00:00+02:00",
                    "services": [{"id": "S1", "title": "Манікюр", "category": "Манікюр", "price": 650}]},
        "client": {"name": "Ольга", "phone": f"+38067{1000000 + i:07d}"},
    }).encode()


def start_gunicorn(app_spec: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "10", app_spec],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)  # let both workers boot
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn for {app_spec} did not start")


def load(port: int, path: str, total: int, clients: int, offset: int) -> tuple[float, list[float], list[int]]:
    """``total`` POSTs from ``clients`` keep-alive connections; returns req/s, latencies (ms), accepted ids."""
    latencies: list[float] = []
    accepted: list[int] = []
    lock = threading.Lock()
    counter = iter(range(offset, offset + total))

    def client() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        mine, ok = [], []
        for i in counter:
            body = event(i)
            t0 = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - t0) * 1000)
            if 200 <= response.status < 300:
                ok.append(i)
        conn.close()
        with lock:
            latencies.extend(mine)
            accepted.extend(ok)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - started), sorted(latencies), accepted


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)


def stored_ids(instance: Path) -> set[int]:
    import sqlite3

    with sqlite3.connect(instance / "salonbridge.db") as db:
        return {int(k.removeprefix("bench-")) for (k,) in db.execute("SELECT dedupe_key FROM inbound_events")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a small, quick run (CI)")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    total = args.requests or (400 if args.smoke else 5000)

    from bridge.queue import embedded_redis, embedded_url, stop_embedded
    from bridge.store.db import Store

    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        root = Path(tmp)
        (root / "tenants").mkdir()
        (root / "tenants" / "bench.yaml").write_text(TENANT, encoding="utf-8")
        (root / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        redis_server = embedded_redis(root / "redis.db")
        env = {
            **os.environ, "BENCH_TOKEN": "tok", "SALONBRIDGE_INSTANCE": str(root),
            "SALONBRIDGE_TENANTS": str(root / "tenants"), "REDIS_URL": embedded_url(redis_server),
            "SALONBRIDGE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(root),
        }
        Store(f"sqlite:///{root / 'salonbridge.db'}").migrate()
        path = "/hooks/bench/generic/tok"
        results = {}
        for name, spec in (("bare", "bare_app:app"), ("ours", "webhooks.app:create_app()")):
            port = free_port()
            server = start_gunicorn(spec, port, env, root)
            try:
                load(port, path, min(100, total), args.clients, offset=10_000_000)  # warm-up
                results[name] = load(port, path, total, args.clients, offset=0 if name == "ours" else 20_000_000)
            finally:
                server.terminate()
                server.wait(timeout=15)
        (bare_rps, _, _), (ours_rps, ours_lat, accepted) = results["bare"], results["ours"]
        lost = len(set(accepted) - stored_ids(root))
        stop_embedded(redis_server)
    print(f"bare_rps={bare_rps:.0f} ours_rps={ours_rps:.0f} requests={total} clients={args.clients}")
    print(f"intake_ratio={ours_rps / bare_rps:.2f} p99_ms={p99(ours_lat):.1f} lost={lost}")
    if lost:
        raise SystemExit("events answered 2xx were not stored")


if __name__ == "__main__":
    main()
