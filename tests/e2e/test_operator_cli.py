"""An operator's first hour, through the CLI only: init a tenant, check files with mistakes, setup against an
unreachable amoCRM, start with Redis down, with the PostgreSQL driver missing, with a variable unset, then
run for real and press Ctrl-C. Every step ends in a message that says what to do; none in a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from salonbridge.demo import free_port
from tests.conftest import TENANT_YAML, TOKEN, TOKEN_ENV
from tests.processes import redis_server

pytestmark = pytest.mark.slow

MISTAKES = """slug: wrong
name: Wrong
timezone: Europe/Kyiv
language: uk
currency: гривня
country: UA
working_hour: 10.5
branches:
  - {id: "1", name: "Центр"}
booking: {source: yclients, webhook_token_env: WRONG_TOKEN}
amocrm: {base_url: https://wrong.amocrm.ru}
"""

CATALOG_MISTAKES = """slug: typos
name: Typos
timezone: Europe/Kyiv
language: uk
currency: UAH
country: UA
branches:
  - {id: "1", name: "Центр"}
booking: {source: yclients, webhook_token_env: TYPOS_TOKEN}
amocrm: {base_url: https://typos.amocrm.ru}
services:
  categories:
    Манікюр: 21
    Манiкюр: 14
  services:
    "3333": {category: Манікюр, counts_for: [Нігтики]}
"""


def cli(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "salonbridge", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


@pytest.fixture
def env(tmp_path: Path) -> dict:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    out = {**os.environ, "SALONBRIDGE_INSTANCE": str(tmp_path / "instance"), "SALONBRIDGE_TENANTS": str(tenants),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'salonbridge.db'}", "SECRET_KEY": "operator-test-key-0123456789"}
    for name in ("REDIS_URL", TOKEN_ENV, "SALONBRIDGE_LOG_JSON"):
        out.pop(name, None)
    return out


def test_init_writes_a_commented_tenant_file_that_check_then_reads(env, tmp_path):
    done = cli(env, "init", "studio-kyiv")
    assert done.returncode == 0
    path = tmp_path / "tenants" / "studio-kyiv.yaml"
    assert "slug: studio-kyiv" in path.read_text(encoding="utf-8")
    assert "STUDIO_KYIV_WEBHOOK_TOKEN" in done.stdout
    assert cli(env, "init", "studio-kyiv").returncode == 2  # never overwrites by accident
    assert "is not a slug" in cli(env, "init", "Studio_Kyiv").stderr
    checked = cli(env, "check")
    assert checked.returncode == 1
    assert "environment variable STUDIO_KYIV_WEBHOOK_TOKEN is not set" in checked.stderr


def test_check_names_each_mistake_and_what_it_expects(env, tmp_path):
    (tmp_path / "tenants" / "wrong.yaml").write_text(MISTAKES, encoding="utf-8")
    (tmp_path / "tenants" / "typos.yaml").write_text(CATALOG_MISTAKES, encoding="utf-8")
    done = cli({**env, "WRONG_TOKEN": "x" * 12, "TYPOS_TOKEN": "y" * 12}, "check")
    assert done.returncode == 1
    for expected in ("currency: expected a 3-letter ISO 4217 currency code",
                     "working_hour: must be a whole number from 0 to 23; got 10.5",
                     "Манiкюр: not a known category; did you mean 'Манікюр'?",
                     "counts_for: unknown category 'Нігтики'",
                     "typos.yaml: amocrm: names no credentials"):
        assert expected in done.stderr, done.stderr


def test_every_start_refuses_in_one_line_per_problem_with_exit_2(env, tmp_path):
    tenants = tmp_path / "tenants"
    (tenants / "salon.yaml").write_text(TENANT_YAML, encoding="utf-8")
    dead = f"redis://127.0.0.1:{free_port()}/0"
    for command in (["run", "--bind", f"127.0.0.1:{free_port()}"], ["worker"], ["clock"], ["web"]):
        done = cli({**env, TOKEN_ENV: TOKEN, "REDIS_URL": dead}, *command)
        assert done.returncode == 2, (command, done.stderr)
        assert "does not answer" in done.stderr and "fix REDIS_URL" in done.stderr
        assert "running on" not in done.stdout
    unset = cli({**env, "REDIS_URL": dead}, "worker")
    assert f"environment variable {TOKEN_ENV} is not set" in unset.stderr and unset.returncode == 2
    no_driver = tmp_path / "no-driver"
    no_driver.mkdir()
    (no_driver / "sitecustomize.py").write_text("import sys\nsys.modules['psycopg'] = None\n", encoding="utf-8")
    pg = {**env, TOKEN_ENV: TOKEN, "DATABASE_URL": "postgresql://u:pw@127.0.0.1:5432/x", "PYTHONPATH": str(no_driver)}
    for command in (["clock"], ["db", "upgrade"]):
        done = cli(pg, *command)
        assert done.returncode == 2
        assert "pip install 'salonbridge[postgres]'" in done.stderr, done.stderr
    bad = cli({**env, TOKEN_ENV: TOKEN, "SALONBRIDGE_LOG_LEVEL": "LOUD"}, "worker")
    assert bad.returncode == 2 and "SALONBRIDGE_LOG_LEVEL" in bad.stderr


def test_setup_against_an_unreachable_amocrm_says_to_check_base_url(env, tmp_path):
    (tmp_path / "tenants" / "salon.yaml").write_text(TENANT_YAML, encoding="utf-8")
    done = cli({**env, TOKEN_ENV: TOKEN}, "setup", "salon")
    assert done.returncode == 1
    assert "cannot reach amoCRM at http://127.0.0.1:9" in done.stderr and "check amocrm.base_url" in done.stderr
    assert "HTTPConnectionPool" not in done.stderr


def test_run_announces_its_address_once_it_listens_and_ctrl_c_stops_everything_within_3_s(env, tmp_path):
    (tmp_path / "tenants" / "salon.yaml").write_text(TENANT_YAML, encoding="utf-8")
    port = free_port()
    with redis_server(free_port(), tmp_path) as server:
        redis_port = server.args[server.args.index("--port") + 1]
        run = subprocess.Popen([sys.executable, "-m", "salonbridge", "run", "--bind", f"127.0.0.1:{port}"],
                               env={**env, TOKEN_ENV: TOKEN, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            line = run.stdout.readline()
            assert "salonbridge is running on http://127.0.0.1:" in line, line
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass  # listening when it said so
            time.sleep(3)  # workers and clock up
            asked = time.monotonic()
            run.send_signal(signal.SIGINT)
            run.wait(timeout=10)
            stopped_s = time.monotonic() - asked
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        err = run.stderr.read()
    print(f"stopped {stopped_s:.2f} s after Ctrl-C", err)
    assert run.returncode == 0
    assert "stopping…" in err
    assert "Traceback" not in err
    assert stopped_s < 3
    assert err.count("SECRET_KEY") == 0


def test_an_operators_first_hour_in_one_sequence_without_a_traceback(env, tmp_path):
    """Fresh instance folder, the install's own embedded Redis: init, check with mistakes, setup against an
    unreachable amoCRM, run with Redis down, run for real, status while it runs, Ctrl-C."""
    done = cli(env, "init", "studio-kyiv")
    assert done.returncode == 0 and "STUDIO_KYIV_WEBHOOK_TOKEN" in done.stdout
    variables = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    path = tmp_path / "tenants" / "studio-kyiv.yaml"
    written = path.read_text(encoding="utf-8")
    mistaken = written.replace("currency: UAH", "currency: гривня").replace("working_hour: 10 ", "working_hour: 10.5 ")
    path.write_text(mistaken, encoding="utf-8")
    checked = cli(env, "check")
    assert checked.returncode == 1
    for expected in ("currency: expected a 3-letter ISO 4217 currency code", "working_hour: must be a whole number",
                     "environment variable STUDIO_KYIV_WEBHOOK_TOKEN is not set"):
        assert expected in checked.stderr, checked.stderr

    amocrm = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    fixed = "\n".join(line for line in written.splitlines() if "partner_token_env" not in line
                      and "user_token_env" not in line)  # no catch-up polling of the real booking system
    path.write_text(re.sub(r"base_url: https://\S+", f"base_url: {amocrm}", fixed, count=1), encoding="utf-8")
    live = {**env, **{name: f"value-of-{name.lower()}-0123456789" for name in variables}}
    checked = cli(live, "check")
    assert checked.returncode == 0 and "1 tenant file(s)" in checked.stdout, checked.stdout + checked.stderr
    setup = cli(live, "setup", "studio-kyiv")
    assert setup.returncode == 1 and f"cannot reach amoCRM at {amocrm}" in setup.stderr
    assert "check amocrm.base_url" in setup.stderr

    port = free_port()
    down = cli({**live, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "run", "--bind", f"127.0.0.1:{port}")
    assert down.returncode == 2 and "fix REDIS_URL" in down.stderr and "running on" not in down.stdout

    run = subprocess.Popen([sys.executable, "-m", "salonbridge", "run", "--bind", f"127.0.0.1:{port}"], env=live,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert "salonbridge is running on" in run.stdout.readline()
        time.sleep(3)  # workers and clock up
        status = cli(live, "status")
        assert status.returncode == 0, status.stderr
        assert "salonbridge_amocrm_backlog" in status.stdout
        assert "tenant=studio-kyiv" in status.stdout and "salonbridge_rq_jobs" in status.stdout
        asked = time.monotonic()
        run.send_signal(signal.SIGINT)
        run.wait(timeout=15)
        stopped_s = time.monotonic() - asked
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    err = run.stderr.read()
    print(f"run on the embedded Redis stopped {stopped_s:.2f} s after Ctrl-C")
    assert "stopping…" in err and "Traceback" not in err, err
    assert run.returncode == 0 and stopped_s < 3
