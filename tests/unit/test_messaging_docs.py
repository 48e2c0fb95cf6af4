"""The YAML example in docs/messaging.md is valid, so integrators can copy it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bridge.messaging.render import validate_templates
from bridge.messaging.settings import parse_channels

DOC = Path(__file__).resolve().parents[2] / "docs" / "messaging.md"


def test_the_documented_block_has_no_problems():
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    rules = yaml.safe_load(block[1])["rules"]
    settings, problems = parse_channels(rules["channels"])
    assert problems == []
    assert settings.preference == ("sms", "email", "salesbot")
    assert validate_templates(rules["templates"]) == []
