"""Start web, worker and clock as child processes, keep them running, and stop them all together.

``salonbridge run`` and ``demo`` own the embedded Redis (if any) and hand every child the same
environment, so the children share one database and one Redis.

A child that exits is started again after a back-off (1 s, doubling to 30 s; back to 1 s once it has
run a minute), and the others go on meanwhile: a crashed worker never takes the web down with it.
Ctrl-C (or SIGTERM) says "stopping…" and stops everything within ``STOP_S`` seconds: a polite SIGTERM
first, SIGKILL for whatever is still there after the grace (a job cut short comes back through RQ's
abandoned-job recovery, its event is still owed in the store).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import config
from config.settings import Settings

GUNICORN_CONF = Path(config.__file__).parent / "gunicorn.conf.py"
STOP_S = 3.0  # Ctrl-C to every process gone
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long starts its back-off from the beginning again


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff_s: float = RESTART_FIRST_S
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    settings: Settings
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    log_file: Path | None = None
    children: dict[str, Child] = field(default_factory=dict)
    _stopping: bool = False

    def _env(self) -> dict[str, str]:
        return {**self.settings.environ, **self.settings.to_env(), "SALONBRIDGE_BIND": self.bind,
                "SALONBRIDGE_SUPERVISED": "1"}

    def _say(self, line: str) -> None:
        if self.log_file:
            with open(self.log_file, "a", encoding="utf-8") as out:
                out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {line}\n")
        print(line, file=sys.stderr, flush=True)

    def spawn(self, name: str, argv: list[str]) -> None:
        """Start one more supervised child (restarted when it exits, stopped with the others)."""
        child = self.children[name] = Child(name, argv)
        self._launch(child)

    def _launch(self, child: Child) -> None:
        out = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115 - lives with the child
        child.proc = subprocess.Popen(child.argv, env=self._env(), stdout=out,
                                      stderr=subprocess.STDOUT if out else None, start_new_session=True)
        if out:
            out.close()  # the child holds its own descriptor
        child.started_at, child.restart_at = time.monotonic(), None

    def start(self, clock: bool = True) -> None:
        py = sys.executable
        self.spawn("web", [py, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "webhooks.app:create_app()"])
        for i in range(self.workers):
            self.spawn(f"worker-{i + 1}", [py, "-m", "salonbridge", "worker"])
        if clock:
            self.start_clock()

    def start_clock(self) -> None:
        """The clock on its own (the demo starts it once the synthetic year is in)."""
        self.spawn("clock", [sys.executable, "-m", "salonbridge", "clock"])

    def pid(self, name: str) -> int | None:
        child = self.children.get(name)
        return child.proc.pid if child and child.proc and child.proc.poll() is None else None

    def exited(self) -> list[str]:
        return [c.name for c in self.children.values() if c.proc is not None and c.proc.poll() is not None]

    def wait_until_listening(self, timeout_s: float = 60) -> bool:
        """True once the web server accepts connections on its address; False if it cannot (it exited)."""
        host, _, port = self.bind.rpartition(":")
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "[::]": "::1"}.get(host, host.strip("[]"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            web = self.children.get("web")
            if web is None or web.proc is None or web.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def supervise_once(self) -> None:
        """Restart the children that exited, each after its own back-off."""
        now = time.monotonic()
        for child in self.children.values():
            if child.proc is None or child.proc.poll() is None:
                continue
            if child.restart_at is None:
                _signal_group(child.proc, signal.SIGKILL)  # what it left behind (gunicorn's workers, a scheduler)
                if now - child.started_at >= HEALTHY_AFTER_S:
                    child.backoff_s = RESTART_FIRST_S
                child.restart_at = now + child.backoff_s
                self._say(f"{child.name} exited ({_how(child.proc.returncode)}); "
                          f"starting it again in {child.backoff_s:.0f} s")
                child.backoff_s = min(child.backoff_s * 2, RESTART_MAX_S)
            elif now >= child.restart_at:
                child.restarts += 1
                self._launch(child)

    def wait(self) -> int:
        """Keep the children running until Ctrl-C/SIGTERM, then stop them all. Returns the exit code."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        while not self._stopping:
            self.supervise_once()
            time.sleep(0.2)
        self.stop()
        return 0

    def _on_signal(self, *_: object) -> None:
        if self._stopping:  # a second Ctrl-C: no more grace
            self._kill_all()
            return
        self._stopping = True
        self._say("stopping…")

    def stop(self, grace_s: float = STOP_S - 1.0) -> None:
        self._stopping = True
        alive = [c.proc for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        for proc in alive:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
        late = [c.name for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        if late:
            self._say(f"stopped with SIGKILL after {grace_s:.0f} s: {', '.join(late)}")
        self._kill_all()

    def _kill_all(self) -> None:
        for child in self.children.values():
            proc = child.proc
            if proc is None:
                continue
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            else:  # the leader is gone; its group (gunicorn's workers, RQ's scheduler) may not be
                _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
