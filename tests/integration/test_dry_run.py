"""`salonbridge replay --dry-run`: every planned action printed, nothing stored or queued."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import func, select

from bridge.store.models import InboundEvent
from salonbridge.cli import main
from tests.helpers import yclients_record


def test_dry_run_prints_the_plan_and_touches_nothing(services, monkeypatch, tmp_path):
    for name, value in services.settings.to_env().items():
        monkeypatch.setenv(name, value)
    lines = [
        json.dumps(yclients_record(1, changed="2026-03-01T09:00:00+0200")),
        json.dumps(yclients_record(1, status="update", attendance=1, changed="2026-03-05T13:35:00+0200")),
        "{broken",
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["replay", str(path), "--tenant", "salon", "--source", "yclients", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "line 1:" in result.output and "UpsertContact" in result.output and "CreateLead" in result.output
    assert "OpenCycle" in result.output and "CreateTask" in result.output  # the completed visit's autotask
    assert "line 3:\n  rejected: malformed JSON" in result.output
    assert "dry run, nothing sent" in result.output
    with services.store.session() as s:
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 0
    assert services.queue.depth() == 0


def test_dry_run_shows_which_rule_gave_each_service_its_category(services, monkeypatch, tmp_path):
    for name, value in services.settings.to_env().items():
        monkeypatch.setenv(name, value)
    record = yclients_record(2)
    record["data"]["services"].append({"id": 9999, "title": "Педикюр", "cost": 500, "amount": 1})
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["replay", str(path), "--tenant", "salon", "--source", "yclients", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "  category of service 3333 'Манікюр + гель-лак': Манікюр (by id)" in result.output
    assert "  category of service 9999 'Педикюр': Педикюр (by category name)" in result.output
    assert "category" not in result.output.splitlines()[-1]  # the summary counts actions only
