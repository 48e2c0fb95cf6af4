"""History import from a spreadsheet: the past becomes history without tasks or messages for cycles long
over, cycles still due get their task, a second run creates nothing, invalid phones are reported, rows of
one person are merged by phone then email."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from bridge.store.models import AppliedAction, Client, CycleRow, MessageRow, Visit
from salonbridge.history_import import ImportFileError, run_import


def day(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).strftime("%Y-%m-%d 12:00")


HEADER = ["Дата", "Телефон", "Email", "Имя", "service", "category", "price", "master", "status", "comment", "source"]


def rows() -> list[list[str]]:
    return [
        [day(-300), "067 111 11 11", "", "Олена", "Манікюр", "Манікюр", "500", "Ірина", "", "перший візит",
         "instagram"],
        [day(-10), "+380 67 111 11 11", "", "Olena K", "Манікюр", "Манікюр", "600", "Ірина", "", "", ""],
        [day(-200), "12345", "petro@example.com", "Петро", "Педикюр", "Педикюр", "800", "Оксана", "", "", ""],
        [day(-25), "", "Petro@Example.com", "Петро", "Манікюр", "Манікюр", "300", "Ірина", "", "", ""],
        ["not a date", "0672222222", "", "Марія", "Манікюр", "Манікюр", "1", "", "", "", ""],
        [day(5), "0674444444", "", "Ганна", "Манікюр", "Манікюр", "500", "Ірина", "scheduled", "", ""],
    ]


def write_csv(path, data) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(data)


def test_history_mode_idempotence_phones_and_merges(services, tmp_path):
    tenant = services.tenants["salon"]
    path = tmp_path / "history.csv"
    write_csv(path, rows())
    first = run_import(services, tenant, path, since=None)
    assert first.rows == 6 and first.events["accepted"] == 5
    assert first.invalid_phones == [4]
    assert [r.split(":")[0] for r in first.rejected] == ["row 6"]
    assert first.merges == ["row 3 → client of row 2 (same phone)", "row 5 → client of row 4 (same email)"]
    assert first.clients_after == 3  # Олена, Петро, Ганна
    assert first.actions["CreateTask"] == 2 and first.cycles_history == 2
    assert first.actions["SendMessage"] == 1  # Ганна's reminder before her visit; no confirmation, no welcome
    with services.store.session() as s:
        tasks = s.execute(select(AppliedAction.payload).where(AppliedAction.kind == "CreateTask")).scalars().all()
        deadlines = sorted(datetime.fromisoformat(t["deadline"]).date() for t in tasks)
        now = datetime.now(UTC)
        assert deadlines == [(now - timedelta(days=4)).date(), (now + timedelta(days=11)).date()]  # Петро's: overdue
        closed = s.scalars(select(CycleRow).where(CycleRow.closed_at.is_not(None))).all()
        assert sorted(c.category for c in closed) == ["manicure", "pedicure"]
        assert all(c.close_reason.startswith("history: due") for c in closed)
        templates = s.scalars(select(MessageRow.template)).all()
        assert templates == ["reminder_24h"]
        olena = s.scalar(select(Client).where(Client.phone == "+380671111111"))
        assert (olena.acquisition, olena.name) == ("instagram", "Olena K")
        comments = s.scalars(select(Visit.comment).where(Visit.client_id == olena.id).order_by(Visit.start_at)).all()
        assert comments == ["перший візит", None]
        petro = s.scalar(select(Client).where(Client.email == "petro@example.com"))
        assert petro.phone is None and len(petro.visits) == 2

    again = run_import(services, tenant, path, since=None)
    assert again.events["accepted"] == 0 and again.events["duplicate"] == 5
    assert sum(again.actions.values()) == 0 and again.clients_after == again.clients_before == 3


def test_xlsx_since_and_a_file_without_the_needed_columns(services, tmp_path):
    tenant = services.tenants["salon"]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["date", "phone", "name", "service", "category", "price"])
    sheet.append([datetime.now() - timedelta(days=400), "0675555555", "Old", "Манікюр", "Манікюр", 300])
    sheet.append([datetime.now() - timedelta(days=3), "0675555555", "Old", "Манікюр", "Манікюр", 300.0])
    path = tmp_path / "history.xlsx"
    book.save(path)
    summary = run_import(services, tenant, path, since=(datetime.now(UTC) - timedelta(days=30)).date())
    assert (summary.rows, summary.skipped_before_since, summary.events["accepted"]) == (2, 1, 1)
    assert summary.actions["CreateTask"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("phone;name\n0671;X\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="no date column"):
        run_import(services, tenant, bad, since=None)


def test_replay_in_history_mode_creates_no_task_for_a_cycle_long_over(services):
    import io
    import json

    from jobs.worker import run_worker
    from salonbridge.replay import replay_lines
    from tests.helpers import yclients_record

    def visit(record_id: int, days_ago: int) -> str:
        when = (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%d 12:00:00")
        body = yclients_record(record_id, status="update", attendance=1, date=when, client_id=record_id,
                               phone=f"+38067{record_id:07d}", changed=when.replace(" ", "T") + "+0200")
        return json.dumps({"tenant": "salon", "source": "yclients", "body": body})

    lines = io.StringIO("\n".join([visit(1, 200), visit(2, 3)]))
    summary = replay_lines(services, lines, default_tenant=None, default_source="yclients", history=True)
    assert summary.outcomes["accepted"] == 2
    run_worker(services, burst=True)
    with services.store.session() as s:
        tasks = s.scalars(select(AppliedAction.client_id).where(AppliedAction.kind == "CreateTask")).all()
        phones = s.scalars(select(Client.phone).where(Client.id.in_(tasks))).all()
    assert phones == ["+380670000002"]  # the visit 200 days ago left history only


def test_products_and_materials_columns_become_the_visits_goods(services, tmp_path):
    from decimal import Decimal

    from bridge.store.visits import goods_of
    from pipelines.events import GoodsLine

    path = tmp_path / "goods.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["date", "phone", "name", "service", "price", "товари", "materials"])
        writer.writerow([day(-40), "0675550101", "Олена", "Манікюр", "500", "Крем для рук x2 = 450; Пилка",
                         "Гель-лак x2,5 мл"])
        writer.writerow([day(-30), "0675550101", "Олена", "Манікюр", "500", "Крем = дорого", ""])
    summary = run_import(services, services.tenants["salon"], path, since=None)
    assert summary.events["accepted"] == 1 and "products: amount 'дорого' is not a number" in summary.rejected[0]
    with services.store.session() as s:
        [stored] = s.scalars(select(Visit.goods)).all()
    assert goods_of(stored) == (GoodsLine("product", "Крем для рук", Decimal(2), Decimal(450)),
                                GoodsLine("product", "Пилка"),
                                GoodsLine("material", "Гель-лак", Decimal("2.5"), None, "мл"))
