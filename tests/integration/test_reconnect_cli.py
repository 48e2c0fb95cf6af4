"""``salonbridge reconnect``: the table for reading (phones masked), JSON and CSV for tools (complete)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from salonbridge.cli import main
from tests.integration.reconnect_data import BRANCH_B, DAY, History


@pytest.fixture
def run(services):
    now = datetime.now(UTC)
    h = History(services.store)
    h.regular(h.client("Ольга", "+380671234567", "olha@example.com"), now - 40 * DAY, 21)
    h.regular(h.client("Iryna", "+380671234568"), now - 60 * DAY, 28, categories=("pedicure",), branch=BRANCH_B)

    def invoke(*args: str):
        return CliRunner().invoke(main, ["reconnect", *args], env=services.settings.to_env(), catch_exceptions=False)

    return invoke


def test_the_table_masks_phones_and_shows_the_overview(run):
    result = run("salon")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "+38067***4567" in out and "+380671234567" not in out and "olha@example.com" not in out
    lines = out.splitlines()
    [total] = [line for line in lines if line.startswith("total")]
    assert total.split() == ["total", "2", "2", "0", "0", "2", "0"]
    assert "at-risk clients: 2" in out
    [olha] = [line for line in lines if line.startswith("Ольга")]
    assert "Манікюр" in olha and "21 d (own)" in olha and olha.endswith(" 19")


def test_list_is_the_default_command(run):
    assert run("salon").output == run("list", "salon").output


def test_json_has_the_overview_and_complete_clients(run):
    body = json.loads(run("salon", "--format", "json").output)
    assert body["overview"]["total"]["at_risk"] == 2
    assert [(c["name"], c["phone"], c["email"]) for c in body["clients"]] == [
        ("Ольга", "+380671234567", "olha@example.com"), ("Iryna", "+380671234568", None)]


def test_csv_is_utf8_with_a_bom_and_complete(run):
    result = run("salon", "--format", "csv", "--category", "manicure")
    raw = result.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["name"], r["phone"], r["category_label"], r["interval_source"]) for r in rows] == [
        ("Ольга", "+380671234567", "Манікюр", "learned")]


def test_filters_by_branch(run):
    body = json.loads(run("salon", "--branch", BRANCH_B, "--format", "json").output)
    assert [c["name"] for c in body["clients"]] == ["Iryna"]
    assert [b["branch"] for b in body["overview"]["branches"]] == [BRANCH_B]


def test_an_unknown_category_fails_with_the_known_ones(run):
    result = run("salon", "--category", "Massage")
    assert result.exit_code == 2
    assert "unknown category 'Massage'; known: Манікюр (manicure), Педикюр (pedicure)" in result.output


def test_an_unknown_tenant_fails_with_the_known_ones(run):
    result = run("nobody")
    assert result.exit_code == 1
    assert "unknown tenant 'nobody'" in result.output and "salon" in result.output


def test_help_explains_the_group_and_the_options():
    out = CliRunner().invoke(main, ["reconnect", "--help"]).output
    assert "list" in out and "short for" in out
    out = CliRunner().invoke(main, ["reconnect", "list", "--help"]).output
    for option in ("--category", "--branch", "--format"):
        assert option in out


def test_send_json_then_the_report_counts_only_messages_that_went_out(run, services):
    sent = json.loads(run("send", "salon", "--all", "--channel", "sms", "--yes", "--format", "json").stdout)
    assert (sent["contacted"], sent["messages"], sent["recipients"]) == (2, 2, 2)
    report = CliRunner().invoke(main, ["report", "reconnect", "salon", "--format", "json"],
                                env=services.settings.to_env(), catch_exceptions=False)
    body = json.loads(report.output)
    assert (body["total"]["contacted"], body["not_sent"]) == (0, 2)  # the clock has not sent them yet
    backwards = CliRunner().invoke(main, ["report", "reconnect", "salon", "--from", "2026-05-01", "--to",
                                          "2026-04-01"], env=services.settings.to_env())
    assert backwards.exit_code == 2 and "--to is before --from" in backwards.output
    csv_out = CliRunner().invoke(main, ["report", "reconnect", "salon", "--format", "csv"],
                                 env=services.settings.to_env(), catch_exceptions=False).stdout_bytes
    assert csv_out.startswith(b"\xef\xbb\xbfgroup,key,name,contacted,rebooked,rate,revenue,pending_revenue")


def test_send_needs_a_category_or_all(run):
    for args in (("send", "salon"), ("send", "salon", "--all", "--category", "manicure")):
        result = CliRunner().invoke(main, ["reconnect", *args])
        assert result.exit_code == 2 and "either --category NAME or --all" in result.output
