"""Per-item validation in amoCRM's Symfony-style vocabulary, and batch-body rules (§4.4, §12.1).

Every batch item is checked before anything is written: one bad item rejects the whole request,
and each failing item is reported under its own ``request_id`` with dotted field paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from amocrm_sandbox.jsonio import BodyError, read_json
from amocrm_sandbox.problems import ApiError, ValidationFailed

T = TypeVar("T")

NOT_SUPPORTED = "NotSupportedChoice"
INVALID_TYPE = "InvalidType"
NOT_EXPECTED = "FieldNotExpected"
NOT_BLANK = "NotBlank"
TOO_LOW = "TooLow"
TOO_MANY = "TooMany"

DETAILS = {
    NOT_SUPPORTED: "The value you selected is not a valid choice.",
    NOT_EXPECTED: "This field was not expected.",
    NOT_BLANK: "This value should not be blank.",
}


def is_int(value: Any) -> bool:
    """JSON integers only: amoCRM rejects ``"2500"``, ``2500.0`` and booleans where an int is due."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class ItemErrors:
    """Errors of one batch item; ``prefix`` lets nested models (a contact inside a complex lead)
    report full paths such as ``_embedded.contacts.0.first_name`` into the same list."""

    errors: list[dict[str, str]] = field(default_factory=list)
    prefix: str = ""

    def add(self, code: str, path: str, detail: str | None = None) -> None:
        full = f"{self.prefix}.{path}" if self.prefix and path else (self.prefix or path)
        self.errors.append({"code": code, "path": full, "detail": detail or DETAILS.get(code, code)})

    def nested(self, path: str) -> ItemErrors:
        full = f"{self.prefix}.{path}" if self.prefix else path
        return ItemErrors(self.errors, full)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def unexpected(self, obj: dict, allowed: Iterable[str], base: str = "") -> None:
        """FieldNotExpected for every key outside the documented writable set."""
        allowed = set(allowed)
        for key in obj:
            if key not in allowed:
                self.add(NOT_EXPECTED, f"{base}{key}")

    def wrong_type(self, path: str, type_name: str) -> None:
        self.add(INVALID_TYPE, path, f"This value should be of type {type_name}.")

    def integer(self, obj: dict, key: str, *, required: bool = False, nullable: bool = False,
                minimum: int | None = None, path: str | None = None) -> int | None:
        """Read an int field, recording NotBlank / InvalidType / TooLow as amoCRM would."""
        path = path or key
        if key not in obj or (obj[key] is None and not nullable):
            if required:
                self.add(NOT_BLANK, path)
            elif key in obj:
                self.wrong_type(path, "int")
            return None
        value = obj[key]
        if value is None:
            return None
        if not is_int(value):
            self.wrong_type(path, "int")
            return None
        if minimum is not None and value < minimum:
            self.add(TOO_LOW, path, f"This value should be greater than or equal to {minimum}.")
            return None
        return value

    def string(self, obj: dict, key: str, *, required: bool = False, path: str | None = None) -> str | None:
        path = path or key
        value = obj.get(key)
        if value is None or (required and value == ""):
            if required:
                self.add(NOT_BLANK, path)
            elif key in obj:
                self.wrong_type(path, "string")
            return None
        if not isinstance(value, str):
            self.wrong_type(path, "string")
            return None
        return value

    def boolean(self, obj: dict, key: str, path: str | None = None) -> bool | None:
        value = obj.get(key)
        if key in obj and not isinstance(value, bool):
            self.wrong_type(path or key, "bool")
            return None
        return value


def target_of(rows: dict[int, dict], item: dict, errs: ItemErrors) -> dict | None:
    """The record a batch-update item names by ``id``; NotBlank / NotSupportedChoice on ``id`` otherwise."""
    found = rows.get(item["id"]) if is_int(item.get("id")) else None
    if found is None:
        errs.add(NOT_SUPPORTED if "id" in item else NOT_BLANK, "id")
    return found


def request_id_of(item: Any, index: int) -> str:
    """The echoed ``request_id``: the client's value as a string, else the item's index (§1)."""
    if isinstance(item, dict) and item.get("request_id") is not None:
        return str(item["request_id"])
    return str(index)


def json_body() -> Any:
    try:
        return read_json()
    except BodyError as exc:
        raise ApiError(400, str(exc)) from exc


def object_body() -> dict:
    """A single-object body (``PATCH /leads/{id}``, ``POST /webhooks``)."""
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed([{"request_id": "0", "errors": [
            {"code": INVALID_TYPE, "path": "", "detail": "This value should be of type object."}]}])
    return body


def batch_body(*, limit: int = 250, over_limit_status: int = 422) -> list:
    """A batch write body: a non-empty JSON array of at most ``limit`` items.

    Over 250 is the documented ``422 Limit 250 per page`` [KOMMO]; smaller endpoint limits (complex 50,
    Salesbot 100) pass their own status, undocumented, so 400 is used there.
    """
    body = json_body()
    if not isinstance(body, list):
        raise ValidationFailed([{"request_id": "0", "errors": [
            {"code": INVALID_TYPE, "path": "", "detail": "This value should be of type array."}]}])
    if not body:
        raise ApiError(400, "Request data can not be empty")
    if len(body) > limit:
        raise ApiError(over_limit_status, f"Limit {limit} per page" if limit == 250 else
                       f"Limit {limit} entities per request")
    return body


def validate_batch(items: list, check: Callable[[dict, ItemErrors], T]) -> list[T]:
    """Run ``check`` on every item and raise one ValidationFailed naming each bad ``request_id``."""
    results: list[T] = []
    failures: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        errs = ItemErrors()
        if not isinstance(item, dict):
            errs.wrong_type("", "object")
            result = None
        else:
            result = check(item, errs)
        if errs:
            failures.append({"request_id": request_id_of(item, index), "errors": errs.errors})
        results.append(result)  # type: ignore[arg-type]
    if failures:
        raise ValidationFailed(failures)
    return results
