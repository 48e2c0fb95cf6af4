"""The README's first command, scaled down: `salonbridge demo` end to end, and its dry run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_demo(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALONBRIDGE_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "salonbridge", "demo", "--clients", "6", "--instance", str(tmp_path / "demo"), *args],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )


def test_demo_runs_the_whole_system_and_reports_what_amocrm_shows(tmp_path):
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "amoCRM sandbox provisioned" in out
    assert "events accepted" in out and "duplicates ignored" in out
    assert "Продажі:" in out  # leads read back from the sandbox, per pipeline and stage
    assert "tasks created" in out and "HTTP 429: 0" in out
    assert "jobs failed              0" in out
    assert "board                    http://127.0.0.1:" in out
    assert "prepayments (LiqPay sandbox)" in out  # seed 003: one paid at the fake LiqPay, one expired
    assert "bk-990001-1    480.00 UAH  paid, receipt PP-" in out and "bk-990002-1    480.00 UAH  expired" in out


def test_demo_dry_run_only_prints_the_plan(tmp_path):
    result = run_demo(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "planned in total, nothing sent:" in result.stdout
    assert "CreateTask" in result.stdout and "UpsertContact" in result.stdout
