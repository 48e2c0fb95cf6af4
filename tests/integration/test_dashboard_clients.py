"""The dashboard's client base, reports, exports and Reconnect results over real HTTP, as a salon manager uses them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import requests
from openpyxl import load_workbook
from sqlalchemy import select

from bridge.store.models import Client, MessageRow, ReconnectContactRow, Visit
from tests.integration.dashboard_data import dash  # noqa: F401 (fixture)
from tests.integration.test_client_page import PHONE
from tests.integration.test_dashboard import sign_in, web  # noqa: F401 (fixture)
from webhooks.dashboard.i18n import TEXTS

UK = TEXTS["uk"]


def client_id(svc, name: str) -> int:
    with svc.store.session() as s:
        return s.scalar(select(Client.id).where(Client.tenant == "salon", Client.name == name))


def rows_of(download: requests.Response) -> list[dict[str, str]]:
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))


def sheet_of(download: requests.Response, title: str | None = None) -> list[list]:
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(download.content))
    return [list(r) for r in (book[title] if title else book.active).iter_rows(values_only=True)]


def test_search_by_name_phone_and_email_opens_the_client_card(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    olga = client_id(dash, "Ольга Петренко")
    for query in ("Ольга", PHONE, "067 123 45 67", "OLGA.petrenko@example.com", str(olga)):
        page = http.get(f"{web}/t/salon/clients", params={"q": query}, timeout=10).text
        assert f'href="/t/salon/clients/{olga}"' in page, query
    assert UK["no_clients"] in http.get(f"{web}/t/salon/clients", params={"q": "Нікого"}, timeout=10).text
    card = http.get(f"{web}/t/salon/clients/{olga}", timeout=10)
    assert card.status_code == 200
    assert re.search(r'id="card-visits">12<', card.text) and "7800" in card.text  # 12 completed visits at 650
    assert PHONE in card.text and "Анна" in card.text  # favourite master
    assert f'href="/t/salon/clients/{olga}/timeline"' in card.text


def test_the_segment_builder_counts_lists_and_exports_the_segment(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    count = http.get(f"{web}/t/salon/clients/count", params={"visits": "4..4"}, timeout=10)
    assert count.json()["count"] == 3  # the three regulars with four visits each
    assert http.get(f"{web}/t/salon/clients/count", params={"visits": "10..", "master": "анна"},
                    timeout=10).json()["count"] == 1
    assert http.get(f"{web}/t/salon/clients/count", timeout=10).json()["count"] == 4  # no filter: everyone
    wrong = http.get(f"{web}/t/salon/clients/count", params={"visits": "5..2"}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["filter"] == "visits" and "reversed" in wrong.json()["error"]

    page = http.get(f"{web}/t/salon/clients", params={"visits": "4..4", "q": ""}, timeout=10).text
    assert UK["segment_count"].format(n=3) in page
    listed = re.findall(r'<a href="/t/salon/clients/\d+">([^<]+)</a>', page)
    assert sorted(listed) == ["Ірина Шевчук", "Марія Коваль", "Оксана Бондар"]
    assert "+38067555000" not in page  # phones masked on the page
    refused = http.get(f"{web}/t/salon/clients", params={"birthday": "13-40..01-01"}, timeout=10).text
    assert "birthday: expected MM-DD..MM-DD" in refused and 'id="segment-csv"' not in refused

    rows = rows_of(http.get(f"{web}/t/salon/clients/segment.csv", params={"visits": "4.."}, timeout=10))
    assert len(rows) == 4 and {r["phone"] for r in rows} >= {"+380675550000", PHONE}
    sheet = sheet_of(http.get(f"{web}/t/salon/clients/segment.xlsx", params={"spend": "1000.."}, timeout=10))
    header, [olga] = sheet[0], sheet[1:]
    assert header[:3] == ["client id", "client", "phone"]
    assert olga[1] == "Ольга Петренко" and olga[header.index("spend")] == 7800
    assert http.get(f"{web}/t/salon/clients/segment.xlsx", params={"visits": "x"}, timeout=10).status_code == 400


def test_every_report_is_a_page_with_csv_and_xlsx(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    index = http.get(f"{web}/t/salon/reports", timeout=10).text
    for name in ("birthdays", "planned", "new_clients", "rating", "lost"):
        assert f'href="/t/salon/reports/{name}"' in index and UK[f"report_{name}"] in index
        page = http.get(f"{web}/t/salon/reports/{name}", timeout=30)
        assert page.status_code == 200 and 'class="card report-table"' in page.text, name
        assert http.get(f"{web}/t/salon/reports/{name}.csv", timeout=30).status_code == 200, name
        assert http.get(f"{web}/t/salon/reports/{name}.xlsx", timeout=30).status_code == 200, name

    rating = http.get(f"{web}/t/salon/reports/rating", timeout=30).text
    assert UK["rt_client_rating"] in rating and UK["rc_average_check"] in rating and "Ольга Петренко" in rating
    rows = rows_of(http.get(f"{web}/t/salon/reports/rating.csv", timeout=30))
    assert (rows[0]["rank"], rows[0]["name"], Decimal(rows[0]["spend"])) == ("1", "Ольга Петренко", Decimal(7800))
    book = load_workbook(io.BytesIO(http.get(f"{web}/t/salon/reports/rating.xlsx", timeout=30).content))
    assert book.sheetnames == ["client rating", "by card type", "by status"]
    first = [c.value for c in next(book["client rating"].iter_rows(min_row=2, max_row=2))]
    assert first[:2] == [1, client_id(dash, "Ольга Петренко")] and 7800 in first

    since = (date.today() - timedelta(days=3)).isoformat()
    narrowed = rows_of(http.get(f"{web}/t/salon/reports/rating.csv", params={"from": since}, timeout=30))
    assert narrowed == []  # nothing completed in the last three days
    bad = http.get(f"{web}/t/salon/reports/rating", params={"from": "2026-03-01", "to": "2026-02-01"}, timeout=10)
    assert bad.status_code == 200 and "the period is reversed" in bad.text and 'id="download-xlsx"' not in bad.text
    assert http.get(f"{web}/t/salon/reports/rating.xlsx", params={"from": "nope"}, timeout=10).status_code == 400
    assert http.get(f"{web}/t/salon/reports/nosuch", timeout=10).status_code == 404


def test_the_prepayment_report_downloads_as_xlsx_with_its_filters(web):  # noqa: F811
    http, _ = sign_in(web, "olena")
    page = http.get(f"{web}/t/salon/prepayments", params={"status": "paid"}, timeout=10).text
    assert 'href="/t/salon/prepayments.xlsx?status=paid"' in page
    sheet = sheet_of(http.get(f"{web}/t/salon/prepayments.xlsx", timeout=10))
    header, rows = sheet[0], sheet[1:]
    assert len(rows) == 4
    status, amount, created = header.index("status"), header.index("amount"), header.index("created_at")
    assert sorted(r[status] for r in rows) == ["cancelled", "expired", "paid", "pending"]
    assert all(r[amount] == 300 and isinstance(r[created], datetime) for r in rows)
    only = sheet_of(http.get(f"{web}/t/salon/prepayments.xlsx", params={"status": "expired"}, timeout=10))
    assert [(r[0], r[status], r[header.index("branch")]) for r in only[1:]] == [("bk-902-1", "expired", "Центр")]


def contacted(svc, name: str, category: str, days_ago: int, *, rebooked: bool) -> None:
    """A Reconnect contact whose first SMS went out ``days_ago`` days ago, and the booking it brought."""
    now = datetime.now(UTC)
    at = now - timedelta(days=days_ago)
    cid = client_id(svc, name)
    with svc.store.session() as s:
        s.add(MessageRow(tenant="salon", client_id=cid, key=f"rc-{cid}-{category}", template="reconnect_first",
                         language="uk", occasion=f"rc-{cid}", channels=["sms"], send_at=at, state="sent",
                         channel="sms", sent_at=at, created_at=at))
        s.add(ReconnectContactRow(tenant="salon", key=f"rc-{cid}-{category}", campaign="c1", client_id=cid,
                                  category=category, branch="111111", channels=["sms"],
                                  message_keys=[f"rc-{cid}-{category}"], last_visit=(at - timedelta(days=40)).date(),
                                  days_late=20, contacted_at=at, follow_up_at=None, follow_up_state="none"))
        if rebooked:
            s.add(Visit(tenant="salon", source="yclients", external_id=f"rb-{cid}", client_id=cid,
                        status="completed", start_at=at + timedelta(days=3), branch="111111",
                        total_price=Decimal("700"), categories=[category], version=at,
                        created_at=at + timedelta(hours=1), updated_at=at))


def test_the_reconnect_page_charts_the_last_three_months_per_category(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    assert UK["no_results"] in http.get(f"{web}/t/salon/reconnect", timeout=60).text
    contacted(dash, "Марія Коваль", "manicure", 70, rebooked=True)
    contacted(dash, "Оксана Бондар", "manicure", 10, rebooked=False)
    contacted(dash, "Ірина Шевчук", "pedicure", 5, rebooked=True)
    contacted(dash, "Ольга Петренко", "manicure", 120, rebooked=True)  # older than three months: not shown
    page = http.get(f"{web}/t/salon/reconnect", timeout=60).text
    charts = {m.group(1): m.group(0)
              for m in re.finditer(r'<figure class="chart" id="chart-(\w+)".*?</figure>', page, re.S)}
    assert list(charts) == ["manicure", "pedicure"]  # most contacted first

    def bars(chart: str, kind: str) -> list[int]:
        return [int(v) for v in re.findall(rf'data-kind="{kind}" data-value="(\d+)"', chart)]

    assert bars(charts["manicure"], "contacted") == [1, 0, 1] and bars(charts["manicure"], "rebooked") == [1, 0, 0]
    assert bars(charts["pedicure"], "contacted") == [0, 0, 1] and bars(charts["pedicure"], "rebooked") == [0, 0, 1]
    assert "Манікюр" in charts["manicure"] and "1 / 2 · 50.0 %" in charts["manicure"]
    row = re.search(r'<tr data-category="manicure">.*?</tr>', page, re.S).group(0)
    assert "700" in row and "50.0 %" in row


HOSTILE = {
    "visits": ["99999999999999999999999..", "-1..", "1e3..", "..", "4..4\x00"],
    "balance": ["1e999..", "NaN..", "-99999999999999999999999999999999..", "0,5..1,5"],
    "spend": ["99999999999999999999999999999999999999..", "..-0"],
    "birthday": ["02-30..03-01", "02-29..02-28", "00-00..12-31"],
    "last_visit": ["0001-01-01..9999-12-31", "9999-12-31..", "2026-02-30.."],
    "tag": ["%", "_", "\\", "\"quoted\"", "x" * 5000],
    "branch": ["' OR 1=1 --", ",,,"], "master": ["АННА", "анна"], "gender": ["female,male", "robot"],
    "blacklisted": ["maybe", "yes"], "segment": ["nosuch"], "colour": ["red"],
}


def test_hostile_filters_and_periods_are_answered_never_with_a_server_error(web):  # noqa: F811
    http, _ = sign_in(web, "olena")
    for name, values in HOSTILE.items():
        for value in values:
            for path in ("/clients/count", "/clients", "/clients/segment.csv", "/clients/segment.xlsx"):
                answer = http.get(f"{web}/t/salon{path}", params={name: value}, timeout=30)
                assert answer.status_code < 500, (path, name, value, answer.status_code)
    for report in ("birthdays", "planned", "new_clients", "rating", "lost"):
        for params in ({"from": "0001-01-01"}, {"to": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "9999-12-31"},
                       {"from": "0001-01-01", "to": "9999-12-31"}, {"branch": "nosuch"}, {"to": "31.12.2026"}):
            for suffix in ("", ".csv", ".xlsx"):
                answer = http.get(f"{web}/t/salon/reports/{report}{suffix}", params=params, timeout=60)
                assert answer.status_code < 500, (report, suffix, params, answer.status_code)
    for params in ({"from": "0001-01-01"}, {"to": "9999-12-31"}, {"status": "nosuch"}, {"branch": "' --"}):
        for suffix in ("", ".csv", ".xlsx"):
            answer = http.get(f"{web}/t/salon/prepayments{suffix}", params=params, timeout=30)
            assert answer.status_code < 500, (suffix, params, answer.status_code)
