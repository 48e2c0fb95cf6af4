"""Start web, worker and clock as child processes and stop them all together.

``salonbridge run`` and ``demo`` own the embedded Redis (if any) and hand every child the same
environment, so the children share one database and one Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import config
from config.settings import Settings

GUNICORN_CONF = Path(config.__file__).parent / "gunicorn.conf.py"


@dataclass
class Supervisor:
    settings: Settings
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    log_file: Path | None = None
    children: dict[str, subprocess.Popen] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        return {**self.settings.environ, **self.settings.to_env(), "SALONBRIDGE_BIND": self.bind}

    def spawn(self, name: str, argv: list[str]) -> None:
        """Start one more supervised child (stopped with the others)."""
        out = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115 - lives with the child
        self.children[name] = subprocess.Popen(
            argv, env=self._env(), stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True
        )

    def start(self) -> None:
        py = sys.executable
        self.spawn("web", [py, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "webhooks.app:create_app()"])
        for i in range(self.workers):
            self.spawn(f"worker-{i + 1}", [py, "-m", "salonbridge", "worker"])
        self.spawn("clock", [py, "-m", "salonbridge", "clock"])

    def exited(self) -> list[str]:
        return [name for name, proc in self.children.items() if proc.poll() is not None]

    def wait(self) -> int:
        """Block until Ctrl-C/SIGTERM or a child dies; then stop everything. Returns an exit code."""
        stopping = {"flag": False}

        def on_signal(*_: object) -> None:
            stopping["flag"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stopping["flag"]:
            dead = self.exited()
            if dead:
                self.stop()
                print(f"stopped: {', '.join(dead)} exited unexpectedly", file=sys.stderr)
                return 1
            time.sleep(0.5)
        self.stop()
        return 0

    def stop(self, grace_s: float = 15) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
