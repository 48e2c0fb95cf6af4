"""The tenant file's ``prepayment:`` section: what loads, and every problem as `salonbridge check` prints it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.tenancy import load_tenant_file
from config.prepayment_model import AmountKind, PaidThenCancelled, TooClose
from salonbridge.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "example.yaml"

FULL = """
prepayment:
  provider: liqpay
  liqpay: {public_key_env: EXAMPLE_LIQPAY_PUBLIC_KEY, private_key_env: EXAMPLE_LIQPAY_PRIVATE_KEY,
           signature: sha3-256}
  wayforpay: {merchant_account: studio_example, secret_key_env: EXAMPLE_WFP_SECRET, domain: studio.example}
  amount: {percent: 20, min: 100}
  promo_services: ["9001", "Акція: манікюр за 399"]
  rules:
    - {name: promo, promo: true, amount: {fixed: 200}}
    - name: new year
      categories: [Манікюр, Педикюр]
      periods: [{from: 2026-12-20, to: 2026-12-31}]
      branches: ["111111"]
    - name: long visits
      services: ["5555"]
      amount: {hourly_rate: 600, staff_rates: {"2222": 800}}
  exempt: {tags: [club, regular], card_types: [Gold], segments: [VIP], completed_visits: 5}
  deadline: {hours_after_booking: 12, hours_before_visit: 6, too_close: skip, immediate_minutes: 20}
  paid_then_cancelled: refund_request
  templates: {link: my_link}
"""


def write(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "example.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + section, encoding="utf-8")
    return path


def test_a_full_section_loads_into_the_settings_the_rules_read(tmp_path):
    cfg = load_tenant_file(write(tmp_path, FULL)).prepayment
    assert cfg is not None and cfg.provider == "liqpay" and cfg.currency is None
    assert cfg.liqpay.signature == "sha3-256" and cfg.liqpay.version == 7 and not cfg.liqpay.sandbox
    assert cfg.wayforpay.merchant_account == "studio_example" and cfg.wayforpay.api_url.startswith("https://api.")
    assert cfg.amount.kind is AmountKind.PERCENT and cfg.amount.minimum == Decimal("100")
    promo, new_year, hourly = cfg.rules
    assert promo.promo and promo.amount.value == Decimal("200")
    assert new_year.periods[0].start == date(2026, 12, 20) and new_year.branches == ("111111",)
    assert hourly.amount.kind is AmountKind.HOURLY and hourly.amount.staff_rates == {"2222": Decimal("800")}
    assert cfg.exempt.completed_visits == 5 and cfg.exempt.card_types == ("Gold",)
    assert cfg.deadline.too_close is TooClose.SKIP and cfg.deadline.immediate_minutes == 20
    assert cfg.paid_then_cancelled is PaidThenCancelled.REFUND_REQUEST
    assert (cfg.templates.link, cfg.templates.paid) == ("my_link", "prepayment_paid")
    assert cfg.provider_settings("wayforpay") is cfg.wayforpay and cfg.provider_settings("stripe") is None


def test_a_tenant_without_the_section_has_no_prepayment(tmp_path):
    assert load_tenant_file(write(tmp_path, "")).prepayment is None


def check(tmp_path: Path, section: str, *args: str):
    write(tmp_path, section)
    return CliRunner().invoke(main, ["check", "--tenants", str(tmp_path), *args])


@pytest.mark.parametrize(("section", "field", "message"), [
    ("prepayment: {provider: liqpay, amount: {fixed: 1}, rules: [{name: a}]}",
     "prepayment.liqpay", "the liqpay section is required"),
    ("prepayment: {provider: stripe, rules: [{name: a}]}", "prepayment.provider", "Must be one of"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, rules: [{name: a}]}",
     "prepayment.rules.0.amount", "required: the section has no default amount"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, rules: []}",
     "prepayment.rules", "Shorter than minimum"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: a-key, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}]}", "prepayment.liqpay.public_key_env", "an environment variable name"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B, signature: md5}, "
     "amount: {fixed: 1}, rules: [{name: a}]}", "prepayment.liqpay.signature", "Must be one of"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B, private_key: s3cr3t}, "
     "amount: {fixed: 1}, rules: [{name: a}]}", "prepayment.liqpay.private_key", "Unknown field"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, "
     "amount: {fixed: 1, percent: 5}, rules: [{name: a}]}",
     "prepayment.amount", "give exactly one of fixed, percent, hourly_rate"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, "
     "amount: {percent: 120}, rules: [{name: a}]}", "prepayment.amount.percent", "Must be greater than 0"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, "
     "amount: {fixed: 0}, rules: [{name: a}]}", "prepayment.amount.fixed", "Must be greater than 0"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, "
     "amount: {percent: 10, min: 300, max: 200}, rules: [{name: a}]}", "prepayment.amount.max", "below min"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, "
     "amount: {fixed: 10, staff_rates: {'1': 5}}, rules: [{name: a}]}",
     "prepayment.amount.staff_rates", "only with hourly_rate"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a, periods: [{from: 2026-12-31, to: 2026-12-01}]}]}",
     "prepayment.rules.0.periods.0.to", "must not be before 'from'"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}, {name: a}]}", "prepayment.rules", "rule names must be unique"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a, promo: true}]}", "prepayment.promo_services", "promo rules need"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "currency: RUB, rules: [{name: a}]}", "prepayment.currency", "liqpay accepts UAH, USD, EUR"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}], deadline: {too_close: later}}", "prepayment.deadline.too_close", "Must be one of"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}], deadline: {hours_after_booking: 1.5}}",
     "prepayment.deadline.hours_after_booking", "Not a valid integer"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}], paid_then_cancelled: burn}", "prepayment.paid_then_cancelled", "Must be one of"),
    ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
     "rules: [{name: a}], templates: {paid: Paid Template}}", "prepayment.templates.paid", "a template id"),
    ("prepayment: {provider: wayforpay, wayforpay: {merchant_account: test_merch_n1, secret_key_env: S, "
     "domain: studio.example}, amount: {fixed: 1}, rules: [{name: a}]}",
     "prepayment.wayforpay.merchant_account", "the public test merchant"),
])
def test_each_problem_is_reported_as_file_field_message(tmp_path, section, field, message):
    result = check(tmp_path, section, "--skip-env")
    assert result.exit_code == 1
    assert f"{tmp_path / 'example.yaml'}: {field}: " in result.output, result.output
    line = next(x for x in result.output.splitlines() if f": {field}: " in x)
    assert message in line


def test_the_tenant_currency_must_be_one_the_provider_takes(tmp_path):
    section = ("prepayment: {provider: liqpay, liqpay: {public_key_env: A, private_key_env: B}, amount: {fixed: 1}, "
               "rules: [{name: a}]}")
    text = EXAMPLE.read_text(encoding="utf-8").replace("currency: UAH", "currency: RUB") + section
    (tmp_path / "example.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--tenants", str(tmp_path), "--skip-env"])
    assert result.exit_code == 1
    assert "prepayment.currency: the tenant's currency RUB is not accepted by liqpay" in result.output


def test_missing_secrets_are_named_by_variable_and_never_printed(tmp_path, monkeypatch):
    for name in ("EXAMPLE_WEBHOOK_TOKEN", "EXAMPLE_YCLIENTS_PARTNER_TOKEN", "EXAMPLE_YCLIENTS_USER_TOKEN",
                 "EXAMPLE_AMO_CLIENT_ID", "EXAMPLE_AMO_CLIENT_SECRET", "EXAMPLE_AMO_WEBHOOK_TOKEN"):
        monkeypatch.setenv(name, "set")
    monkeypatch.setenv("EXAMPLE_LIQPAY_PUBLIC_KEY", "sandbox_i00000000")
    monkeypatch.setenv("EXAMPLE_LIQPAY_PRIVATE_KEY", "very-secret-private-key")
    monkeypatch.delenv("EXAMPLE_WFP_SECRET", raising=False)
    result = check(tmp_path, FULL)
    assert result.exit_code == 1
    assert "prepayment.wayforpay.secret_key_env: environment variable EXAMPLE_WFP_SECRET is not set" in result.output
    assert "very-secret-private-key" not in result.output and "liqpay" not in result.output
    monkeypatch.setenv("EXAMPLE_WFP_SECRET", "another-secret")
    assert check(tmp_path, FULL).exit_code == 0


def test_the_example_in_docs_payments_loads(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "payments.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(prepayment:.*?)```", doc, re.S)
    assert block is not None
    cfg = load_tenant_file(write(tmp_path, "\n" + block[1])).prepayment
    assert cfg.provider == "liqpay" and [r.name for r in cfg.rules] == ["promo", "new year", "long visits"]


def test_the_commented_example_in_the_shipped_tenant_file_loads_when_uncommented(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    section = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# ") and (
        line.startswith("# prepayment:") or line.startswith("#   ")))
    path = tmp_path / "example.yaml"
    path.write_text(text + "\n" + section + "\n", encoding="utf-8")
    assert load_tenant_file(path).prepayment.exempt.tags == ("club",)
