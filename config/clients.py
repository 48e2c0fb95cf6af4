"""The ``clients:`` section of a tenant file (seed 001): the tag set, saved segments, history import,
the birthday greeting and the booking widget the client's page links to.

Every key is optional. ``segments`` maps a name to filters by the names in ``SEGMENT_FILTERS``; the
values are checked by ``pipelines.segments.parse_segment`` when the file is loaded (the same rules
as the command line and the API), docs/clients.md explains each filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from config.segment_filters import SEGMENT_FILTERS


@dataclass(frozen=True)
class ClientSettings:
    tags: tuple[str, ...] = ()  # the tenant's tag set; empty: any tag
    segments: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    history_grace_days: int = 14  # an imported cycle due at most this long ago still gets its task
    lost_after_days: int = 90  # lost clients report: no completed visit for this long and nothing booked
    birthday_hour: int = 10  # local hour of the birthday greeting (trigger ``birthday_greeting``)
    birthday_offer: str = ""  # the greeting's gift ({{ bonus }})
    booking_url: str | None = None  # the salon's booking widget; {branch_id} {service_id} {staff_id} filled in


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _filters(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise ValidationError("must be a mapping of filter names to values")
    unknown = [str(k) for k in value if k not in SEGMENT_FILTERS]
    if unknown:
        raise ValidationError(f"unknown filter {', '.join(unknown)}; known: {', '.join(SEGMENT_FILTERS)}")
    return {str(k): ("yes" if v is True else "no" if v is False else str(v)) for k, v in value.items()}


class _Segments(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, dict[str, str]]:
        if not isinstance(value, Mapping):
            raise ValidationError("must be a mapping of segment names to filters")
        out, errors = {}, {}
        for name, filters in value.items():
            try:
                out[str(name)] = _filters(filters)
            except ValidationError as exc:
                errors[str(name)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out


BOOKING_URL_FIELDS = ("branch_id", "service_id", "staff_id")


def _booking_url(value: str) -> None:
    """An http(s) URL whose only placeholders are ``BOOKING_URL_FIELDS`` (a typo fails at load)."""
    if not value.startswith(("https://", "http://")):
        raise ValidationError("must be an http(s) URL")
    try:
        value.format(**{name: "" for name in BOOKING_URL_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(f"unknown placeholder {exc}; known: "
                              f"{', '.join('{' + n + '}' for n in BOOKING_URL_FIELDS)}") from None


class ClientsSchema(_Strict):
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    segments = _Segments(load_default=dict)
    history_grace_days = fields.Integer(load_default=14, strict=True, validate=validate.Range(min=0, max=365))
    lost_after_days = fields.Integer(load_default=90, strict=True, validate=validate.Range(min=1, max=3650))
    birthday_hour = fields.Integer(load_default=10, strict=True, validate=validate.Range(min=0, max=23))
    birthday_offer = fields.String(load_default="", validate=validate.Length(max=200))
    booking_url = fields.String(load_default=None, allow_none=True, validate=_booking_url)

    @post_load
    def make(self, data: dict, **_: Any) -> ClientSettings:
        data["tags"] = tuple(data["tags"])
        return ClientSettings(**data)
