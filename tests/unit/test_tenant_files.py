"""Tenant files checked once, where they are loaded: the mistakes `salonbridge check` must catch and say
plainly, the notes it prints without failing, and a process that refuses a bad file at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.services import Services
from config.settings import Settings
from config.tenants import TenantFileError
from salonbridge.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "example.yaml"
ENV = {
    "EXAMPLE_WEBHOOK_TOKEN": "t",
    "EXAMPLE_YCLIENTS_PARTNER_TOKEN": "p",
    "EXAMPLE_YCLIENTS_USER_TOKEN": "u",
    "EXAMPLE_AMO_CLIENT_ID": "i",
    "EXAMPLE_AMO_CLIENT_SECRET": "s",
    "EXAMPLE_AMO_WEBHOOK_TOKEN": "w",
}


def check(tmp_path: Path, edit: Callable[[str], str] = lambda text: text, *args: str):
    """``salonbridge check`` on the shipped example after ``edit``; the example's secrets are set."""
    (tmp_path / "example.yaml").write_text(edit(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    return CliRunner().invoke(main, ["check", "--tenants", str(tmp_path), *args], env=ENV)


def test_the_example_passes_with_its_secrets_set(tmp_path):
    result = check(tmp_path)
    assert result.exit_code == 0, result.output
    assert "1 tenant file(s)" in result.output


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("working_hour: 10 ", "working_hour: 10.5 "),
         "working_hour: must be a whole number from 0 to 23; got 10.5"),
        (lambda t: t.replace("currency: UAH", "currency: гривня"),
         "currency: expected a 3-letter ISO 4217 currency code in capitals, e.g. UAH, RUB, EUR; got 'гривня'"),
        (lambda t: t.replace("country: UA", "country: Ukraine"), "country: expected a 2-letter ISO 3166"),
        (lambda t: t.replace("source: yclients ", "source: altegio "),
         "booking.source: unknown booking source 'altegio'; known: yclients, generic"),
        (lambda t: t.replace("    Педикюр: 28", "    Педикур: 28"),
         "services.categories.Педикур: not a known category; did you mean 'Педикюр'?"),
        (lambda t: t.replace("counts_for: [Манікюр, Педикюр]", "counts_for: [Манікюр, Педикур]"),
         "services.services.Манікюр + педикюр.counts_for: unknown category 'Педикур': did you mean 'Педикюр'?"),
        (lambda t: t.replace("counts_for: [Манікюр, Педикюр]", "counts_for: [Манікюр, Масаж]"),
         "services.services.Манікюр + педикюр.counts_for: unknown category 'Масаж': add it under services.categories"),
        (lambda t: t.replace('"3333": {category: Манікюр, periodicity_days: 21}', '"3333": {category: Масаж}'),
         "services.services.3333.category: unknown category 'Масаж': add it under services.categories"),
        (lambda t: t.replace('"3333": {category: Манікюр, periodicity_days: 21}', '"3333": {category: Laser}'),
         "services.services.3333.category: category 'Laser' has no default periodicity"),
        (lambda t: t.replace("  client_id_env: EXAMPLE_AMO_CLIENT_ID\n", "").replace(
            "  client_secret_env: EXAMPLE_AMO_CLIENT_SECRET\n", ""),
         "amocrm: names no credentials: add client_id_env and client_secret_env (OAuth), or long_lived_token_env"),
        (lambda t: t.replace("  client_secret_env: EXAMPLE_AMO_CLIENT_SECRET\n", ""),
         "amocrm.client_secret_env: is required with client_id_env (OAuth needs both)"),
        (lambda t: t.replace("rules: {}", "rules: {triggers: {welcom: true}}"),
         "rules.triggers.welcom: unknown trigger"),
        (lambda t: t.replace("rules: {}", "rules: {channels: {sms: {url: ftp://x}}}"),
         "rules.channels.sms.url: must be an http(s) URL"),
        (lambda t: t.replace("rules: {}", "rules: {templates: {welcome: {uk: '{{ nme }}'}}}"),
         "rules.templates.welcome.uk.text: unknown placeholder(s) nme"),
    ],
)
def test_check_names_each_mistake_and_what_it_expects(tmp_path, edit, expected):
    result = check(tmp_path, edit)
    assert result.exit_code == 1
    assert f"{tmp_path / 'example.yaml'}: {expected}" in result.output, result.output


def test_a_category_of_your_own_is_not_taken_for_a_typo_once_a_service_names_it(tmp_path):
    result = check(tmp_path, lambda t: t.replace("    Педикюр: 28", "    Педикур: 28").replace(
        '"3333": {category: Манікюр, periodicity_days: 21}', '"3333": {category: Педикур}'))
    assert result.exit_code == 0, result.output


def test_null_periodicity_means_no_repeat_task_and_check_says_so_without_failing(tmp_path):
    result = check(tmp_path, lambda t: t.replace("    Педикюр: 28", "    Педикюр: null\n    \"90\": 35").replace(
        '"3333": {category: Манікюр, periodicity_days: 21}', '"3333": {category: Манікюр, periodicity_days: null}'))
    assert result.exit_code == 0, result.output
    path = tmp_path / "example.yaml"
    assert f"{path}: services.categories.Педикюр: null: no repeat-visit task for this category (note)" in result.output
    assert f"{path}: services.services.3333.periodicity_days: null: no repeat-visit task for this service" in (
        result.output)


def test_every_secret_named_anywhere_is_checked_unless_skipped(tmp_path):
    result = check(tmp_path, lambda t: t.replace("rules: {}", "rules: {channels: {sms: {url: 'https://sms.example',"
                                                               " token_env: SALON_SMS_TOKEN}}}"))
    assert result.exit_code == 1
    assert "rules.channels.sms.token_env: environment variable SALON_SMS_TOKEN is not set" in result.output
    assert check(tmp_path, lambda t: t, "--skip-env").exit_code == 0


def test_a_fresh_install_has_no_tenants_and_says_so(tmp_path):
    empty = tmp_path / "tenants"
    empty.mkdir()
    runner = CliRunner()
    env = {"SALONBRIDGE_TENANTS": str(empty), "SALONBRIDGE_INSTANCE": str(tmp_path / "instance")}
    for args in (["check"], ["check", "--tenants", str(empty)], ["amocrm", "status", "--offline"]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert f"no tenants yet: no tenant files in {empty}" in result.output
        assert "config/examples/example.yaml there as <slug>.yaml" in result.output


def test_a_process_refuses_a_bad_rules_value_at_start_up(tmp_path):
    """Not inside a job: Services.build stops before it opens the database or Redis."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    bad = EXAMPLE.read_text(encoding="utf-8").replace("rules: {}", "rules: {lost_after_days: -1}")
    (folder / "example.yaml").write_text(bad, encoding="utf-8")
    settings = Settings.from_env({"SALONBRIDGE_TENANTS": str(folder), "SALONBRIDGE_INSTANCE": str(tmp_path / "i")})
    with pytest.raises(TenantFileError, match=r"example\.yaml: rules\.lost_after_days: must be a whole number"):
        Services.build(settings)
    assert not (tmp_path / "i").exists()


def test_tenant_secrets_come_from_the_settings_environment_not_the_process(tmp_path, monkeypatch):
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "example.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("EXAMPLE_WEBHOOK_TOKEN", "from-the-process")
    from bridge.tenancy import load_tenants

    tenant = load_tenants(folder, {"EXAMPLE_WEBHOOK_TOKEN": "from-settings"})["example"]
    assert tenant.secret("EXAMPLE_WEBHOOK_TOKEN") == "from-settings"
    assert tenant.secret("EXAMPLE_AMO_CLIENT_ID") is None


def test_settings_carry_the_token_key_and_web_server_values():
    s = Settings.from_env({"SALONBRIDGE_TOKEN_KEY": "k" * 32, "PORT": "5000", "WEB_CONCURRENCY": "3"})
    assert (s.token_key, s.web_bind, s.web_workers, s.access_log) == ("k" * 32, "127.0.0.1:5000", 3, False)
    assert s.to_env()["SALONBRIDGE_TOKEN_KEY"] == "k" * 32
    assert Settings.from_env({"SALONBRIDGE_BIND": "0.0.0.0:80"}).web_bind == "0.0.0.0:80"
    assert Settings.from_env({}).token_key is None


def test_a_section_left_empty_is_an_empty_section(tmp_path):
    result = check(tmp_path, lambda t: t.replace("rules: {}", "rules:"))
    assert result.exit_code == 0, result.output
