"""``salonbridge report prepayments``: table, JSON, CSV (UTF-8 with BOM) and XLSX (typed cells), filtered
by local dates, status and branch."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bridge.store import prepayments as repo
from bridge.store.models import Client
from pipelines.prepayment import PaymentReport, ProviderStatus, on_report
from salonbridge.cli import main

# Kyiv is UTC+2 in winter: 23:30 UTC on 1 Dec is already 2 Dec locally.
DAY1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LATE = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)


@pytest.fixture
def seeded(services, monkeypatch):
    settings = services.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SALONBRIDGE_TENANTS", str(settings.tenants_dir))
    monkeypatch.setenv("SALONBRIDGE_LOG_LEVEL", "WARNING")
    with services.store.session() as s:
        olga = Client(tenant="salon", name="Ольга Петренко", phone="+380671234567", email="olga@example.com",
                      created_at=DAY1, updated_at=DAY1, tags=[])
        s.add(olga)
        s.flush()
        paid, _ = repo.create_attempt(s, tenant="salon", booking_id="501", provider="liqpay", amount=Decimal("300"),
                                      currency="UAH", deadline_at=DAY1 + timedelta(hours=24), now=DAY1,
                                      client_id=olga.id, branch="111111", rule="all", visit_at=DAY1 + timedelta(days=3))
        report = PaymentReport("bk-501-1", ProviderStatus.PAID, Decimal("300"), "UAH", "success", "777")
        repo.apply_change(s, paid, on_report(repo.status_of(paid), report, expected=Decimal("300"), currency="UAH"),
                          DAY1 + timedelta(hours=1), report)
        repo.create_attempt(s, tenant="salon", booking_id="502", provider="wayforpay", amount=Decimal("150.5"),
                            currency="UAH", deadline_at=LATE + timedelta(hours=24), now=LATE, branch="111112")
    return services


def run(*args: str):
    result = CliRunner().invoke(main, ["report", "prepayments", "salon", *args])
    return result


def test_the_table_lists_newest_first_with_a_summary(seeded):
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["order", "booking", "client", "branch", "amount", "status", "created", "deadline",
                                "closed", "receipt"]
    assert lines[1].startswith("bk-502-1") and "Поділ" in lines[1] and "150.50 UAH" in lines[1]
    assert "bk-501-1" in lines[2] and "Ольга Петренко" in lines[2] and "paid" in lines[2]
    assert "2026-12-01 10:00" in lines[2]  # created, in Kyiv time
    assert lines[-1] == "2 prepayment(s), paid 1, pending 1; paid in total 300.00 UAH"
    assert "+380" not in result.output and "olga@example.com" not in result.output


def test_json_carries_every_column_with_local_times(seeded):
    result = run("--format", "json", "--status", "paid")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert (row["order_ref"], row["amount"], row["currency"], row["status"], row["client"]) == (
        "bk-501-1", "300.00", "UAH", "paid", "Ольга Петренко")
    assert row["created_at"] == "2026-12-01T10:00:00+02:00" and row["paid_at"] == "2026-12-01T11:00:00+02:00"
    assert row["receipt_number"].startswith("PP-") and row["branch"] == "Центр" and row["expired_at"] is None


def test_csv_is_utf8_with_a_bom_and_a_header(seeded, tmp_path):
    out = tmp_path / "prepayments.csv"
    result = run("--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["order_ref"] for r in rows] == ["bk-502-1", "bk-501-1"]
    assert rows[1]["client"] == "Ольга Петренко" and rows[0]["amount"] == "150.50" and rows[0]["paid_at"] == ""


def test_xlsx_has_money_as_numbers_in_hryvnias_and_times_as_local_dates(seeded, tmp_path):
    out = tmp_path / "prepayments.xlsx"
    result = run("--format", "xlsx", "--output", str(out), "--branch", "Центр")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header[:10] == ["order", "booking", "attempt", "client", "branch", "rule", "provider", "amount",
                           "currency", "status"]
    assert sheet.max_row == 2 and sheet.freeze_panes == "A2"
    row = dict(zip(header, sheet[2], strict=True))
    assert (row["order"].value, row["client"].value, row["branch"].value, row["status"].value) == (
        "bk-501-1", "Ольга Петренко", "Центр", "paid")
    assert row["amount"].value == 300 and row["amount"].number_format.endswith('"₴"')
    assert row["received"].value == 300 and row["attempt"].value == 1
    assert row["paid"].value == datetime(2026, 12, 1, 11, 0)  # a date cell, in Kyiv time
    assert row["paid"].is_date and row["expired"].value is None
    assert row["receipt"].value.startswith("PP-")


@pytest.mark.parametrize(("args", "expected"), [
    (["--from", "2026-12-02"], ["bk-502-1"]),  # 23:30 UTC on the 1st is the 2nd in Kyiv
    (["--to", "2026-12-01"], ["bk-501-1"]),
    (["--from", "2026-12-01", "--to", "2026-12-01"], ["bk-501-1"]),
    (["--status", "pending", "--status", "paid"], ["bk-502-1", "bk-501-1"]),
    (["--status", "expired"], []),
    (["--branch", "111111"], ["bk-501-1"]),
    (["--branch", "поділ"], ["bk-502-1"]),
])
def test_filters(seeded, args, expected):
    result = run("--format", "json", *args)
    assert result.exit_code == 0, result.output
    assert [r["order_ref"] for r in json.loads(result.output)] == expected


@pytest.mark.parametrize(("args", "message"), [
    (["--branch", "Оболонь"], "unknown branch 'Оболонь'"),
    (["--status", "lost"], "'lost' is not one of"),
    (["--from", "2026-12-05", "--to", "2026-12-01"], "--to is before --from"),
    (["--from", "1.12.2026"], "does not match the format"),
])
def test_bad_options_say_what_is_wrong(seeded, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_an_unknown_tenant_is_named(seeded):
    result = CliRunner().invoke(main, ["report", "prepayments", "nobody"])
    assert result.exit_code == 1 and "unknown tenant 'nobody'" in result.output


def test_an_empty_report_says_so(seeded):
    result = run("--status", "refunded")
    assert result.exit_code == 0 and result.output.strip() == "0 prepayment(s)"
