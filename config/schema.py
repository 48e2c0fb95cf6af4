"""The marshmallow toolkit every section of a tenant file is read with.

Messages are written for the integrator who edits the YAML ("must be a whole number from 0 to 23; got
10.5"), not marshmallow's defaults, and types are strict: a YAML boolean is not a number, a number is not
a boolean, and ``10.5`` is not an hour. Problems come back as ``(dotted.field.path, message)`` pairs so
that ``salonbridge check`` can print ``FILE: FIELD: MESSAGE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

Problems = list[tuple[str, str]]
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
REQUIRED = {"required": "is required", "null": "must have a value"}


class Strict(Schema):
    """A section of the file: unknown keys are reported, a non-mapping is reported at the section's path."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown setting", "type": "must be a mapping of settings"}


def _plain(value: Any) -> bool:
    """An int that is not a bool (YAML ``yes``/``true`` are bools)."""
    return isinstance(value, int) and not isinstance(value, bool)


class WholeNumber(fields.Field):
    """An integer within [lo, hi]; floats such as ``10.5``, strings and booleans are refused."""

    def __init__(self, lo: int, hi: int, **kwargs: Any) -> None:
        super().__init__(error_messages=REQUIRED, **kwargs)
        self.lo, self.hi = lo, hi

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if _plain(value) and self.lo <= value <= self.hi:
            return value
        raise ValidationError(f"must be a whole number from {self.lo} to {self.hi}; got {value!r}")


class Number(fields.Field):
    """An int or float within [lo, hi] (not a boolean)."""

    def __init__(self, lo: float, hi: float, **kwargs: Any) -> None:
        super().__init__(error_messages=REQUIRED, **kwargs)
        self.lo, self.hi = lo, hi

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if (_plain(value) or isinstance(value, float)) and self.lo <= value <= self.hi:
            return value
        raise ValidationError(f"must be a number from {self.lo:g} to {self.hi:g}; got {value!r}")


class Flag(fields.Field):
    """``true`` or ``false`` and nothing else (not 1, not "yes")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(error_messages=REQUIRED, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise ValidationError("must be true or false")


class Text(fields.Field):
    """Non-empty text, stripped. ``pattern``/``hint``: a regular expression it must match and what to say;
    ``echo`` adds the value to the message (never for fields that might hold a pasted secret)."""

    def __init__(self, *, pattern: re.Pattern[str] | None = None, hint: str = "", echo: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(error_messages=REQUIRED, **kwargs)
        self.pattern, self.hint, self.echo = pattern, hint, echo

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("must be non-empty text")
        if self.pattern is not None and not self.pattern.match(value.strip()):
            raise ValidationError(f"{self.hint}; got {value!r}" if self.echo else self.hint)
        return value.strip()


def EnvName(**kwargs: Any) -> Text:  # noqa: N802 - a field factory, read like a field class
    """The name of an environment variable holding a secret (never the secret itself)."""
    return Text(pattern=ENV_NAME, hint="must name an environment variable (A-Z, 0-9, _), not hold the secret", **kwargs)


def HeaderName(**kwargs: Any) -> Text:  # noqa: N802
    return Text(pattern=HEADER_NAME, hint="must be an HTTP header name", **kwargs)


class Choice(fields.Field):
    """One of ``options``; ``fold`` upper-cases text first (HTTP methods)."""

    def __init__(self, options: Iterable[str], *, fold: bool = False, message: str = "", **kwargs: Any) -> None:
        super().__init__(error_messages=REQUIRED, **kwargs)
        self.options, self.fold, self.message = tuple(options), fold, message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and self.fold:
            value = value.strip().upper()
        if isinstance(value, str) and value in self.options:
            return value
        raise ValidationError(self.message or f"must be one of {', '.join(self.options)}; got {value!r}")


class ClockTime(fields.Field):
    """A local time written ``"HH:MM"`` → ``(hour, minute)``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, int]:
        match = CLOCK.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValidationError(f'must be a time "HH:MM"; got {value!r}')
        return int(match[1]), int(match[2])


class Section(fields.Field):
    """A nested section read by ``schema`` built with this schema's ``vocabulary`` (see config/vocabulary.py)."""

    def __init__(self, schema: type[Schema], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.schema = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        vocabulary = getattr(self.parent, "vocabulary", None)
        try:
            return self.schema(vocabulary=vocabulary).load(value)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


def problems_as_errors(problems: Problems) -> dict[str, Any]:
    """(relative path, message) pairs → an error mapping marshmallow nests under the field ("" = the field)."""
    errors: dict[str, list[str]] = {}
    for path, message in problems:
        errors.setdefault(path or "_schema", []).append(message)
    return errors


def flatten_errors(messages: Any, prefix: str = "", *, nested: tuple[str, ...] = ("value",)) -> Problems:
    """marshmallow's nested error dict → (dotted.field.path, message) pairs.

    Keys in ``nested`` hold errors of the path already built: a Dict field's "value" errors always; tenant
    files also fold a Dict's "key" errors and schema-level "_schema" ones into their section's path
    (``field_problems``), while webhook answers keep "_schema" visible.
    """
    if isinstance(messages, Mapping):
        out: Problems = []
        for key, value in messages.items():
            inner = key in nested and bool(prefix)
            path = prefix if inner else f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, path, nested=nested))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix or "(file)", m) for m in messages]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten_errors(m, prefix, nested=nested)]
    return [(prefix or "(file)", str(messages))]


def field_problems(messages: Any, prefix: str = "") -> Problems:
    """A tenant file's errors with the paths an integrator edits (no marshmallow "_schema"/"value" parts)."""
    return [(path.removesuffix("._schema") if path != "_schema" else "(file)", message)
            for path, message in flatten_errors(messages, prefix, nested=("key", "value", "_schema"))]
