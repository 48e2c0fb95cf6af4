"""Real processes for the tests that run an install as production does: a redis-server of the test's own,
``salonbridge run`` (web, workers and clock in one tree) or one ``salonbridge web|worker|clock`` process
at a time, and the children of a run by pid. Shared by tests/e2e and tests/chaos."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from salonbridge.demo import free_port


@contextmanager
def redis_server(port: int, folder: Path) -> Iterator[subprocess.Popen]:
    proc = start_redis(port, folder)
    try:
        yield proc
    finally:
        stop_redis(proc)


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True,
                              timeout=2).stdout.strip() == "PONG":
                return proc
        except (subprocess.TimeoutExpired, FileNotFoundError):
            pass
        time.sleep(0.1)
    return proc


def stop_redis(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code < 500
    except requests.RequestException:
        return False


def wait_healthy(proc: subprocess.Popen, base: str, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not healthy(base):
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.2)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``python -m salonbridge ARGS`` in a session of its own, its output appended to ``log``."""
    return subprocess.Popen([sys.executable, "-m", "salonbridge", *args], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 15) -> None:
    """Ask the process to stop with ``sig``; kill its whole session if it has not within ``timeout_s``."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def salonbridge_run(env: dict[str, str], log: Path, workers: int = 2,
                    port: int | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """``salonbridge run`` until the block ends (then SIGINT, as Ctrl-C): (process, web base URL)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    proc = spawn(["run", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)], env, log)
    try:
        wait_healthy(proc, base, log)
        yield proc, base
    finally:
        stop(proc, signal.SIGINT)


def children(proc: subprocess.Popen) -> dict[int, str]:
    """The run's children by pid: their command lines."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.strip().splitlines()}
