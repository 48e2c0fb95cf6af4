"""Idempotency markers: how a create we are unsure about is found again in amoCRM.

amoCRM has no idempotency keys and ``request_id`` is only echoed, never stored. So each create carries
our own marker somewhere the API lets us search:

* contacts and leads: an API-only text custom field (code ``SB_MARKER``) holding the marker; looked up
  with ``GET /api/v4/{contacts|leads}?query=<marker>`` (full-text search over filled fields, available
  on every account) and then matched exactly on that field, since ``query`` also hits other fields.
* tasks: the API has no text search for tasks, so the marker goes at the end of the task text, where
  staff see it. It is looked up by listing the tasks of the entity the task is attached to
  (``filter[entity_type]`` + ``filter[entity_id]``) and matching the suffix (unattached tasks: the
  account's tasks updated in the last day), so it only has to tell apart the tasks of one lead or
  contact: `` #`` and 8 hex digits of the marker's hash (32 bits; two of a lead's few dozen robot tasks
  sharing them is a one-in-a-hundred-million chance). Tasks made before this form ended in
  `` [sb:<marker>]`` and are still recognised. docs/amocrm.md explains the mark to amoCRM users.

Markers are short, deterministic and search-friendly: ``make_marker(*parts)`` → ``sb`` + 24 hex digits.

To verify on a live account [INFER]: that ``query`` indexes API-only text fields promptly after a
create. ``bridge.amocrm.create_once`` looks an unsure create up only in the next sync round (seconds
later); if search lags more than that, leads can switch to
``filter[custom_fields_values][<field_id>][]=<marker>``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

MARKER_FIELD_CODE = "SB_MARKER"
MARKER_FIELD_NAME = "salonbridge key"
MARKER_KINDS = ("contacts", "leads", "tasks")
TASK_MARK_DIGITS = 8
_VALID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


def make_marker(*parts: object) -> str:
    """A marker derived from an action's idempotency key (same key → same marker)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"sb{digest[:24]}"


def check_marker(kind: str, marker: str) -> None:
    if kind not in MARKER_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(MARKER_KINDS)}, got {kind!r}")
    if not _VALID.match(marker):
        raise ValueError("marker: 6-64 letters, digits, '-' or '_' (full-text search splits on anything else)")


def task_suffix(marker: str) -> str:
    """What ends the text of a task created under ``marker`` (`` #3f9a2c7d``)."""
    return f" #{hashlib.sha256(marker.encode()).hexdigest()[:TASK_MARK_DIGITS]}"


def _task_suffixes(marker: str) -> tuple[str, str]:
    return task_suffix(marker), f" [sb:{marker}]"  # the second: tasks created by earlier versions


def with_marker(kind: str, payload: dict[str, Any], marker: str, field_id: int | None) -> dict[str, Any]:
    """A copy of ``payload`` that carries the marker (the caller's dict is left alone)."""
    body = dict(payload)
    if kind == "tasks":
        text = str(body.get("text", ""))
        body["text"] = text if text.endswith(_task_suffixes(marker)) else text + task_suffix(marker)
        return body
    values = [v for v in body.get("custom_fields_values") or [] if v.get("field_id") != field_id]
    body["custom_fields_values"] = [*values, {"field_id": field_id, "values": [{"value": marker}]}]
    return body


def carries_marker(kind: str, entity: dict[str, Any], marker: str, field_id: int | None) -> bool:
    """Exact match on the marker field (contacts/leads) or the text suffix (tasks)."""
    if kind == "tasks":
        return str(entity.get("text") or "").endswith(_task_suffixes(marker))
    for field in entity.get("custom_fields_values") or []:
        if field.get("field_id") == field_id or field.get("field_code") == MARKER_FIELD_CODE:
            return any(str(v.get("value")) == marker for v in field.get("values") or [])
    return False


def marker_field_definition() -> dict[str, Any]:
    """The custom field ``AmoCrmClient.ensure_marker_field`` creates (API-only: staff cannot edit it)."""
    return {"name": MARKER_FIELD_NAME, "type": "text", "code": MARKER_FIELD_CODE, "is_api_only": True, "sort": 9999}
