"""`salonbridge web` — the command the Procfile, the container and the systemd unit run — serves the app
on the address it is given, passes /healthz, and stops on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_web_command_serves_healthz_on_the_bind_it_is_given_and_stops_on_sigterm(services, tmp_path: Path):
    port = free_port()
    cli = shutil.which("salonbridge", path=str(Path(sys.executable).parent)) or "salonbridge"
    env = {**os.environ, **services.settings.to_env(), "PORT": "1"}  # --bind wins over $PORT
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen([cli, "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env,
                           cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60  # a loaded host may take a while to boot the worker
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert web.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        assert requests.get(f"http://127.0.0.1:{port}/api/docs/", timeout=5).status_code == 200
    finally:
        web.send_signal(signal.SIGTERM)
        code = web.wait(timeout=20)
        log.close()
    assert code == 0, (tmp_path / "web.log").read_text()
