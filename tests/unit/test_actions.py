"""Actions survive the store: every type comes back from its stored form equal and typed."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import pytest

from pipelines.actions import Action, action_types

WHEN = datetime(2026, 3, 5, 10, 30, tzinfo=UTC)


def _sample(hint: typing.Any) -> typing.Any:
    """A value of the declared type that differs from every default."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return _sample(next(a for a in typing.get_args(hint) if a is not type(None)))
    if origin is tuple:
        return (_sample(typing.get_args(hint)[0]),)
    if origin in (Mapping, dict):
        return {"branch": "Центр"}
    if hint is datetime:
        return WHEN
    if isinstance(hint, type) and issubclass(hint, Enum):
        return list(hint)[-1]
    return {str: "x-1", bool: True, int: 7, Decimal: Decimal("123.45")}[hint]


def sample(cls: type[Action]) -> Action:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name]) for f in fields(cls)})


@pytest.mark.parametrize("kind", sorted(action_types()))
def test_every_action_round_trips_through_json(kind):
    action = sample(action_types()[kind])
    stored = json.loads(json.dumps(action.to_dict()))
    again = Action.from_dict(kind, stored)
    assert again == action
    assert type(again) is type(action)
    for f in fields(action):  # typed again, not left as JSON strings and lists
        assert type(getattr(again, f.name)) is type(getattr(action, f.name))


def test_an_unknown_kind_is_refused_with_its_name():
    with pytest.raises(ValueError, match="Teleport"):
        Action.from_dict("Teleport", {"key": "k"})
