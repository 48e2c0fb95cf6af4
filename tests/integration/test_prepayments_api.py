"""The prepayment report over JSON (real HTTP, bearer token): the same rows and filters as the CLI's JSON."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner

from salonbridge.cli import main
from tests.fakes.http import serve
from tests.integration.test_prepayment_report import seeded  # noqa: F401 (fixture)
from webhooks.app import create_app

API_TOKEN = "prepay-api-t0ken-1234567890"


@pytest.fixture
def tenants_dir(tenants_dir, monkeypatch):
    path = tenants_dir / "salon.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "api_token_env: SALON_TEST_API_TOKEN\n", encoding="utf-8")
    monkeypatch.setenv("SALON_TEST_API_TOKEN", API_TOKEN)
    return tenants_dir


@pytest.fixture
def base_url(seeded):  # noqa: F811
    with serve(create_app(services=seeded)) as url:
        yield url


def get(base_url: str, token: str | None = API_TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{base_url}/api/tenants/salon/prepayments", headers=headers, params=params, timeout=10)


def cli_json(*args: str) -> list:
    result = CliRunner().invoke(main, ["report", "prepayments", "salon", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(("params", "args"), [
    ({}, []),
    ({"status": ["pending", "paid"]}, ["--status", "pending", "--status", "paid"]),
    ({"from": "2026-12-02"}, ["--from", "2026-12-02"]),  # 23:30 UTC on the 1st is the 2nd in Kyiv
    ({"to": "2026-12-01", "branch": "центр"}, ["--to", "2026-12-01", "--branch", "центр"]),
])
def test_the_api_answers_what_the_cli_prints(base_url, params, args):
    answer = get(base_url, **params)
    assert answer.status_code == 200
    assert answer.json()["prepayments"] == cli_json(*args)


def test_rows_carry_the_money_status_and_local_times_and_no_contact_data(base_url):
    body = get(base_url, status="paid", branch="111111").json()
    assert body["filters"] == {"from": None, "to": None, "statuses": ["paid"], "branch": "111111"}
    (row,) = body["prepayments"]
    assert (row["order_ref"], row["booking_id"], row["client"], row["amount"], row["currency"], row["provider"],
            row["status"]) == ("bk-501-1", "501", "Ольга Петренко", "300.00", "UAH", "liqpay", "paid")
    assert row["paid_at"] == "2026-12-01T11:00:00+02:00" and row["receipt_number"].startswith("PP-")
    assert "+380" not in json.dumps(body) and "olga@" not in json.dumps(body)


@pytest.mark.parametrize(("params", "reason"), [
    ({"from": "1.12.2026"}, "from: expected YYYY-MM-DD"),
    ({"from": "2026-12-05", "to": "2026-12-01"}, "the period is reversed"),
    ({"status": "lost"}, "unknown status 'lost'"),
    ({"branch": "Оболонь"}, "unknown branch 'Оболонь'"),
])
def test_bad_filters_are_a_400_naming_the_problem(base_url, params, reason):
    answer = get(base_url, **params)
    assert answer.status_code == 400 and reason in answer.json()["reason"]


@pytest.mark.security
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_without_the_tenants_token_it_is_a_404(base_url, token):
    assert get(base_url, token).status_code == 404


def test_the_openapi_document_describes_it(base_url):
    doc = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()
    operation = doc["paths"]["/api/tenants/{slug}/prepayments"]["get"]
    assert operation["operationId"] == "listPrepayments" and operation["security"] == [{"tenantToken": []}]
    assert {p["name"] for p in operation["parameters"]} == {"slug", "from", "to", "status", "branch"}
