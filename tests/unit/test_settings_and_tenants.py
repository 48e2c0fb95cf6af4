"""Settings from the environment and tenant files, as `salonbridge check` reports them."""

import multiprocessing
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.settings import Settings, SettingsError
from salonbridge.cli import _in_background, main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "example.yaml"


def test_defaults_are_sqlite_under_the_instance_folder_and_embedded_redis(tmp_path):
    s = Settings.from_env({"SALONBRIDGE_INSTANCE": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'salonbridge.db'}"
    assert s.redis_url is None
    assert s.embedded_redis_path == tmp_path / "redis.db"


def test_postgres_urls_use_psycopg3():
    assert Settings.from_env({"DATABASE_URL": "postgres://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"DATABASE_URL": "mysql://x", "REDIS_URL": "http://x", "SALONBRIDGE_LOG_LEVEL": "LOUD"})
    text = str(err.value)
    assert "DATABASE_URL" in text and "REDIS_URL" in text and "SALONBRIDGE_LOG_LEVEL" in text


def test_the_intake_window_and_attempts_are_read_and_checked():
    s = Settings.from_env({"SALONBRIDGE_EARLIEST_DATE": "2000-01-01", "SALONBRIDGE_YEARS_AHEAD": "2",
                           "SALONBRIDGE_MAX_ATTEMPTS": "5"})
    assert (s.earliest_date.isoformat(), s.years_ahead, s.max_event_attempts) == ("2000-01-01", 2, 5)
    assert Settings.from_env(s.to_env()).max_event_attempts == 5  # handed on to the children of `run`
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"SALONBRIDGE_EARLIEST_DATE": "1st of May", "SALONBRIDGE_YEARS_AHEAD": "0",
                           "SALONBRIDGE_MAX_ATTEMPTS": "many"})
    text = str(err.value)
    assert all(name in text for name in ("EARLIEST_DATE", "YEARS_AHEAD", "MAX_ATTEMPTS"))


def test_background_work_runs_at_a_lower_cpu_priority_than_the_web():
    assert Settings.from_env({}).background_nice == 0  # SQLite: a niced worker would hold its one write lock
    assert Settings.from_env({"DATABASE_URL": "postgresql://127.0.0.1/x"}).background_nice == 10
    s = Settings.from_env({"SALONBRIDGE_BACKGROUND_NICE": "15"})
    assert Settings.from_env(s.to_env()).background_nice == 15  # handed on to the children of `run`
    with pytest.raises(SettingsError, match="SALONBRIDGE_BACKGROUND_NICE"):
        Settings.from_env({"SALONBRIDGE_BACKGROUND_NICE": "20"})
    ctx = multiprocessing.get_context("fork")
    base = os.getpriority(os.PRIO_PROCESS, 0)
    for asked, started_at in ((10, 0), (0, 0), (5, 12)):  # lowered to the setting, never raised again
        answer = ctx.Queue()
        child = ctx.Process(target=_niceness_after, args=(asked, started_at, answer))
        child.start()
        child.join(timeout=10)
        assert answer.get(timeout=1) == min(19, max(asked, base + started_at))


def _niceness_after(asked: int, started_at: int, answer) -> None:
    os.nice(started_at)
    _in_background(Settings.from_env({"SALONBRIDGE_BACKGROUND_NICE": str(asked)}))
    answer.put(os.getpriority(os.PRIO_PROCESS, 0))


def run_check(folder: Path, *args: str):
    return CliRunner().invoke(main, ["check", "--tenants", str(folder), *args])


def test_check_accepts_the_shipped_example(tmp_path):
    (tmp_path / "example.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_check(tmp_path, "--skip-env")
    assert result.exit_code == 0, result.output
    assert "1 tenant file(s)" in result.output


def test_check_names_file_and_field_path_of_every_error(tmp_path):
    bad = EXAMPLE.read_text(encoding="utf-8")
    bad = bad.replace("timezone: Europe/Kyiv", "timezone: Mars/Olympus")
    bad = bad.replace("working_hour: 10 ", "working_hour: 31 ")
    bad = bad.replace("requests_per_second: 7", "requests_per_second: 50").replace("Педикюр: 28", "Педикюр: zero")
    path = tmp_path / "example.yaml"
    path.write_text(bad, encoding="utf-8")
    result = run_check(tmp_path, "--skip-env")
    assert result.exit_code == 1
    for field in ("timezone", "working_hour", "amocrm.requests_per_second", "services.categories.Педикюр"):
        assert f"{path}: {field}:" in result.output, result.output


def test_check_reports_missing_secrets_by_variable_name(tmp_path, monkeypatch):
    (tmp_path / "example.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.delenv("EXAMPLE_WEBHOOK_TOKEN", raising=False)
    result = run_check(tmp_path)
    assert result.exit_code == 1
    assert "booking.webhook_token_env: environment variable EXAMPLE_WEBHOOK_TOKEN is not set" in result.output


def test_check_rejects_a_slug_that_differs_from_the_file_name(tmp_path):
    (tmp_path / "other.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_check(tmp_path, "--skip-env")
    assert result.exit_code == 1 and "slug: must match the file name 'other'" in result.output
