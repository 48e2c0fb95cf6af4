"""The tenant file's clients section: tag set, saved segments checked like the command line's filters."""

from __future__ import annotations

from pathlib import Path

from bridge.tenancy import examine_document, read_yaml
from tests.conftest import TENANT_YAML


def problems(tmp_path: Path, section: str) -> list[str]:
    path = tmp_path / "salon.yaml"
    path.write_text(TENANT_YAML + section, encoding="utf-8")
    found = examine_document(read_yaml(path), path, {})
    return [f"{p.field}: {p.message}" for p in found.problems]


def test_saved_segments_and_tags_load(tmp_path):
    assert problems(tmp_path, "clients:\n  tags: [vip]\n  segments:\n    vip_women: {gender: female, tag: vip, "
                              "spend: 1000.., blacklisted: false}\n  history_grace_days: 7\n") == []


def test_unknown_filters_and_reversed_ranges_are_named(tmp_path):
    [found] = problems(tmp_path, "clients:\n  segments:\n    a: {colour: red}\n")
    assert found.startswith("clients.segments.a: unknown filter colour; known: tag, gender")
    found = problems(tmp_path, "clients:\n  segments:\n    b: {spend: 500..100}\n")
    assert found == ["clients.segments.b.spend: reversed range '500..100': 500 is after 100"]
