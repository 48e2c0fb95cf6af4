"""The tenant file's ``reconnect:`` section and ``api_token_env``, as `salonbridge check` reports them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.tenancy import load_tenant_file
from config.reconnect import PredictedTime, ReconnectSettings
from config.tenants import ConfigProblem, Tenant, read_yaml, unset_secrets
from salonbridge.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "example.yaml"
BASE = EXAMPLE.read_text(encoding="utf-8").split("# The salon's JSON API")[0]


def check_environment(tenant: Tenant) -> list[ConfigProblem]:
    """The unset variables `salonbridge check` reports for the tenant's file (read from this process)."""
    return [ConfigProblem(tenant.path, f, m) for f, m in unset_secrets(read_yaml(tenant.path), os.environ)]


def tenant_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "example.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


def test_without_the_section_every_default_applies(tmp_path):
    tenant = load_tenant_file(tenant_file(tmp_path, ""))
    assert tenant.reconnect == ReconnectSettings(7, 7, 30, "both", PredictedTime(False, 3), False, False)
    assert tenant.api_token_env is None


def test_the_shipped_example_spells_out_the_defaults(tmp_path):
    assert load_tenant_file(EXAMPLE).reconnect == ReconnectSettings()
    text = EXAMPLE.read_text(encoding="utf-8").replace("# api_token_env:", "api_token_env:")
    assert load_tenant_file(tenant_file(tmp_path, text.removeprefix(BASE))).api_token_env == "EXAMPLE_API_TOKEN"


def test_settings_are_read(tmp_path):
    text = """reconnect:
  tolerance_days: 0
  follow_up_after_days: null
  attribution_window_days: 45
  channel: sms
  predicted_time: {enabled: true, lead_days: 5}
  create_call_task: true
"""
    r = load_tenant_file(tenant_file(tmp_path, text)).reconnect
    assert r == ReconnectSettings(0, None, 45, "sms", PredictedTime(True, 5), False, True)


@pytest.mark.parametrize(("section", "field", "message"), [
    ("tolerance_days: -1", "reconnect.tolerance_days", "from 0 to 365"),
    ("tolerance_days: soon", "reconnect.tolerance_days", "Not a valid integer"),
    ("channel: pigeon", "reconnect.channel", "Must be one of: sms, email, both"),
    ("predicted_time: {lead_days: 0}", "reconnect.predicted_time.lead_days", "from 1 to 60"),
    ("follow_up_after_days: 30", "reconnect.follow_up_after_days", "less than attribution_window_days (30)"),
    ("tolerance: 3", "reconnect.tolerance", "Unknown field"),
])
def test_check_names_each_bad_field(tmp_path, section, field, message):
    path = tenant_file(tmp_path, f"reconnect:\n  {section}\n")
    result = CliRunner().invoke(main, ["check", "--tenants", str(tmp_path), "--skip-env"])
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith(f"{path}: {field}:")]
    assert message in line, result.output


def test_an_api_token_variable_that_is_not_set_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("EXAMPLE_API_TOKEN", raising=False)
    tenant = load_tenant_file(tenant_file(tmp_path, "api_token_env: EXAMPLE_API_TOKEN\n"))
    assert [(p.field, p.message) for p in check_environment(tenant) if p.field == "api_token_env"] == [
        ("api_token_env", "environment variable EXAMPLE_API_TOKEN is not set")]
