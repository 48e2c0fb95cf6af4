"""Seed 001's five client reports against the hand-built client base (known answers), and their output:
XLSX read back with openpyxl cell by cell, CSV with a BOM, through the command line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner

from bridge.reports import ReportError, build, period_for
from bridge.tables import Column, Table, money_format, write_xlsx
from salonbridge.cli import main
from tests.integration import client_data
from tests.integration.client_data import TODAY


@pytest.fixture
def base(services):
    ids = client_data.build(services.store)
    return services, ids


def run(services, name, start=None, end=None, branch=None):
    tenant = services.tenants["salon"]
    with services.store.reading() as conn:
        tables = build(conn, tenant, name, period_for(name, start, end, TODAY), branch, TODAY)
        return [list(t.rows) for t in tables]


def pick(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


def test_birthdays_in_a_period_spanning_the_new_year_and_29_february(base):
    services, _ = base
    [rows] = run(services, "birthdays", date(2026, 12, 1), date(2027, 1, 31))
    assert pick(rows, "birthday_on", "name", "turns") == [(date(2026, 12, 10), "Олена", 36),
                                                          (date(2027, 1, 5), "Марія", 42)]
    [rows] = run(services, "birthdays", date(2026, 2, 1), date(2026, 3, 31))
    assert pick(rows, "birthday_on", "name", "turns") == [(date(2026, 2, 28), "Петро", 46)]
    [rows] = run(services, "birthdays", date(2026, 12, 1), date(2027, 1, 31), branch="111111")
    assert pick(rows, "name") == [("Олена",)]


def test_planned_visits_per_category_with_due_dates(base):
    services, _ = base
    [rows] = run(services, "planned", date(2026, 3, 1), date(2026, 3, 31))
    assert pick(rows, "category", "due", "name", "days_overdue", "branch") == [
        ("Манікюр", date(2026, 3, 22), "Олена", 0, "111111"),
        ("Педикюр", date(2026, 3, 15), "Петро", 0, "111111"),
    ]  # Петро's manicure task was cancelled by a booking, Софія's cycle is closed
    assert run(services, "planned", date(2026, 3, 1), date(2026, 3, 31), branch="111112") == [[]]
    [rows] = run(services, "planned", date(2026, 3, 1), date(2026, 3, 20))
    assert pick(rows, "name") == [("Петро",)]


def test_new_clients_by_source_and_reason(base):
    services, _ = base
    groups, clients = run(services, "new_clients", date(2026, 1, 1), date(2026, 3, 31))
    assert pick(groups, "source", "reason", "clients", "came", "spend") == [
        ("instagram", "(not given)", 1, 1, Decimal("1500.00")),
        ("instagram", "haircut", 1, 1, Decimal("1100.00")),
    ]
    assert pick(clients, "first_booking", "name") == [(date(2026, 1, 10), "Олена"), (date(2026, 2, 15), "Петро")]
    groups, _ = run(services, "new_clients", date(2026, 4, 1), date(2026, 4, 30))  # a booking counts, not a visit
    assert pick(groups, "source", "reason", "clients", "came") == [("(unknown)", "(not given)", 1, 0)]


def test_rating_by_spend_card_type_and_status(base):
    services, _ = base
    rows, by_card, by_status = run(services, "rating", date(2026, 2, 1), date(2026, 3, 31))
    assert pick(rows, "rank", "name", "card_type", "status", "visits", "spend", "average_check") == [
        (1, "Петро", "(none)", "new", 3, Decimal("1500.00"), Decimal("500.00")),
        (2, "Олена", "gold", "regular", 1, Decimal("600.00"), Decimal("600.00")),
    ]
    assert pick(by_card, "card_type", "clients", "spend") == [("(none)", 1, Decimal("1500.00")),
                                                              ("gold", 1, Decimal("600.00"))]
    assert pick(by_status, "status", "clients", "share") == [("new", 1, 1500 / 2100), ("regular", 1, 600 / 2100)]
    rows, _, by_status = run(services, "rating", date(2025, 1, 1), date(2026, 3, 31))
    assert pick(rows, "name", "status") == [("Петро", "new"), ("Олена", "new"), ("Марія", "blacklisted"),
                                            ("Софія", "lost")]


def test_lost_clients_by_branch_and_master(base):
    services, _ = base
    groups, clients = run(services, "lost", end=TODAY)
    assert pick(groups, "branch", "master", "clients", "active", "lost", "lost_share") == [
        ("Поділ", "Оксана", 2, 0, 2, 1.0),
        ("Поділ", "Ірина", 1, 1, 0, 0.0),
        ("Центр", "Ірина", 1, 1, 0, 0.0),
    ]
    assert pick(clients, "name", "last_visit", "days_since") == [("Софія", date(2025, 6, 1), 287),
                                                                 ("Марія", date(2025, 11, 20), 115)]
    groups, _ = run(services, "lost", end=TODAY, branch="111111")
    assert pick(groups, "branch", "lost") == [("Центр", 0)]


def test_reversed_period_and_unknown_report_are_refused():
    with pytest.raises(ReportError, match="reversed"):
        period_for("rating", date(2026, 3, 1), date(2026, 2, 1), TODAY)
    with pytest.raises(ReportError, match="unknown report 'nope'"):
        period_for("nope", None, None, TODAY)


def test_xlsx_is_typed_styled_frozen_filtered_and_reads_back_cell_by_cell(tmp_path):
    table = Table("rating", (Column("name", "client"), Column("visits", "visits", "int"),
                             Column("spend", "spend", "money"), Column("last", "last visit", "date"),
                             Column("vip", "vip", "bool"), Column("phone", "phone", "phone")),
                  iter([{"name": "Олена", "visits": 2, "spend": Decimal("1100.50"), "last": date(2026, 3, 1),
                         "vip": True, "phone": "+380671111111"},
                        {"name": "Петро", "visits": 3, "spend": Decimal("1500"), "last": None, "vip": False,
                         "phone": None}]), "UAH")
    path = tmp_path / "r.xlsx"
    assert write_xlsx([table], str(path)) == {"rating": 2}
    sheet = openpyxl.load_workbook(path)["rating"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["client", "visits", "spend", "last visit", "vip", "phone"]
    assert values[1][:3] == ["Олена", 2, 1100.5] and values[1][3].date() == date(2026, 3, 1)
    assert values[1][4:] == ["yes", "+380671111111"]
    assert values[2] == ["Петро", 3, 1500, None, "no", None]
    assert sheet["C2"].number_format == money_format("UAH") == '#,##0.00\\ "₴"'
    assert sheet["D2"].is_date and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["A1"].font.bold and sheet["A1"].fill.fgColor.rgb.endswith("305496")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F3"
    assert sheet.column_dimensions["F"].width == len("+380671111111") + 2


def test_cli_reports_and_segment_export(base, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SALONBRIDGE_TENANTS", str(settings.tenants_dir))
    runner = CliRunner()
    out = tmp_path / "seg.csv"
    result = runner.invoke(main, ["clients", "segment", "salon", "--gender", "female", "--card-type", "gold",
                                  "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "Олена" in data.decode("utf-8-sig")
    assert len(data.decode("utf-8-sig").splitlines()) == 3
    result = runner.invoke(main, ["clients", "segment", "salon", "--spend", "500..100"])
    assert result.exit_code == 2 and "reversed range" in result.output
    result = runner.invoke(main, ["clients", "segment", "salon", "--where", "colour=red"])
    assert result.exit_code == 2 and "colour: unknown filter" in result.output
    result = runner.invoke(main, ["report", "rating", "salon", "--from", "2026-03-01", "--to", "2026-02-01"])
    assert result.exit_code == 2 and "reversed" in result.output
    xlsx = tmp_path / "lost.xlsx"
    result = runner.invoke(main, ["report", "lost", "salon", "--to", "2026-03-15", "--format", "xlsx",
                                  "--output", str(xlsx)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["by branch and master", "lost clients"]
    assert [c.value for c in book["lost clients"][2]][:4] == ["Поділ", "Оксана", base[1]["Софія"], "Софія"]
    result = runner.invoke(main, ["report", "birthdays", "salon", "--from", "2026-12-01", "--to", "2027-01-31"])
    assert result.exit_code == 0 and "Олена" in result.output and "+380671111111" not in result.output
