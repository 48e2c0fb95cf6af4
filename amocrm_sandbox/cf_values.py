"""``custom_fields_values``: the write formats of §9.4 checked and stored, and the read shape rebuilt.

Stored per entity as ``[{field_id, values}]`` with values already in read form; ``field_name``,
``field_code`` and ``field_type`` are joined at read time so a renamed field reads back renamed.
Writing a field replaces all its values; ``values: null`` clears it. Read-side keys echoed back into a
write (``field_name``, ``enum_code: null`` on a text field) are refused with FieldNotExpected, as amoCRM
does (§9.4, fact 9).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from amocrm_sandbox.state import Data
from amocrm_sandbox.validation import NOT_BLANK, NOT_EXPECTED, NOT_SUPPORTED, ItemErrors, is_int

SCALAR_TYPES = {"text", "textarea", "url", "streetaddress", "tracking_data", "monetary", "price", "numeric"}
DATE_TYPES = {"date", "date_time", "birthday"}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "category"}
CODED_TYPES = {"multitext", "smart_address"}  # value + enum_id/enum_code
SMART_ADDRESS = {1: "address_line_1", 2: "address_line_2", 3: "city", 4: "state", 5: "zip", 6: "country"}


def fields_of(data: Data, entity_type: str) -> list[dict]:
    return [f for f in data["custom_fields"].values() if f["entity_type"] == entity_type]


def apply_values(data: Data, entity_type: str, current: list[dict] | None, payload: Any,
                 errs: ItemErrors) -> list[dict] | None:
    """The entity's stored values after applying ``payload``; errors go to ``errs``."""
    if not isinstance(payload, list):
        errs.wrong_type("custom_fields_values", "array")
        return current
    by_id = {f["id"]: f for f in fields_of(data, entity_type)}
    by_code = {f["code"]: f for f in by_id.values() if f.get("code")}
    result = {row["field_id"]: row for row in copy.deepcopy(current or [])}
    for i, entry in enumerate(payload):
        base = f"custom_fields_values.{i}"
        if not isinstance(entry, dict):
            errs.wrong_type(base, "object")
            continue
        errs.unexpected(entry, ("field_id", "field_code", "values"), f"{base}.")
        field = _field(entry, by_id, by_code, errs, base)
        if field is None or "values" not in entry:
            if field is not None:
                errs.add(NOT_BLANK, f"{base}.values")
            continue
        values = entry["values"]
        if values is None or values == []:
            result.pop(field["id"], None)
            continue
        if not isinstance(values, list):
            errs.wrong_type(f"{base}.values", "array")
            continue
        stored = [_value(field, v, errs, f"{base}.values.{j}") for j, v in enumerate(values)]
        result[field["id"]] = {"field_id": field["id"], "values": stored}
    return list(result.values()) or None


def _field(entry: dict, by_id: dict, by_code: dict, errs: ItemErrors, base: str) -> dict | None:
    if "field_id" in entry:
        fid = entry["field_id"]
        if not is_int(fid):
            errs.wrong_type(f"{base}.field_id", "int")
            return None
        if fid not in by_id:
            errs.add(NOT_SUPPORTED, f"{base}.field_id")
        return by_id.get(fid)
    if "field_code" in entry:
        if entry["field_code"] not in by_code:
            errs.add(NOT_SUPPORTED, f"{base}.field_code")
        return by_code.get(entry["field_code"])
    errs.add(NOT_BLANK, f"{base}.field_id")
    return None


def _value(field: dict, raw: Any, errs: ItemErrors, path: str) -> Any:
    ftype = field["type"]
    if not isinstance(raw, dict):
        errs.wrong_type(path, "object")
        return None
    if ftype in SCALAR_TYPES | DATE_TYPES | {"checkbox"}:
        errs.unexpected(raw, ("value",), f"{path}.")
        if "value" not in raw:
            errs.add(NOT_BLANK, f"{path}.value")
            return None
        return {"value": _scalar(ftype, raw["value"], errs, f"{path}.value")}
    if ftype in ENUM_TYPES or ftype in CODED_TYPES:
        errs.unexpected(raw, ("value", "enum_id", "enum_code"), f"{path}.")
        return _enum_value(field, raw, errs, path)
    return copy.deepcopy(raw)  # legal_entity, linked_entity, file, …: kept as sent


def _scalar(ftype: str, value: Any, errs: ItemErrors, path: str) -> Any:
    if ftype == "checkbox":
        if not isinstance(value, bool):
            errs.wrong_type(path, "bool")
        return value
    if ftype in DATE_TYPES:
        if is_int(value):
            return value
        if isinstance(value, str):
            try:
                return int(datetime.fromisoformat(value).timestamp())
            except ValueError:
                pass
        errs.wrong_type(path, "int")
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errs.wrong_type(path, "string")
        return value
    if ftype == "numeric":
        try:
            float(value)
        except ValueError:
            errs.wrong_type(path, "numeric")
    return str(value)


def _enums(field: dict) -> list[dict]:
    if field["type"] == "smart_address":
        return [{"id": k, "value": v, "code": v} for k, v in SMART_ADDRESS.items()]
    return field.get("enums") or []


def _enum_value(field: dict, raw: dict, errs: ItemErrors, path: str) -> dict | None:
    """Resolve ``enum_id`` / ``enum_code`` / ``value``. For PHONE/EMAIL the code is the enum's value
    (``MOB``, ``WORK``); an omitted enum there means WORK, the first one."""
    enums = _enums(field)
    coded = field["type"] in CODED_TYPES
    chosen: dict | None = None
    if raw.get("enum_id") is not None:
        chosen = next((e for e in enums if e["id"] == raw["enum_id"]), None)
        if chosen is None:
            errs.add(NOT_SUPPORTED, f"{path}.enum_id")
            return None
    elif raw.get("enum_code") is not None:
        code = raw["enum_code"]
        chosen = next((e for e in enums if (e.get("code") or (e["value"] if coded else None)) == code), None)
        if chosen is None:
            errs.add(NOT_SUPPORTED, f"{path}.enum_code")
            return None
    elif not coded:
        chosen = next((e for e in enums if e["value"] == raw.get("value")), None)
        if chosen is None:
            errs.add(NOT_SUPPORTED, f"{path}.value")
            return None
    if "enum_code" in raw and raw["enum_code"] is None and chosen is None:
        errs.add(NOT_EXPECTED, f"{path}.enum_code")
    if not coded:
        return {"value": chosen["value"], "enum_id": chosen["id"], "enum_code": chosen.get("code")}
    text = raw.get("value")
    if not isinstance(text, str) or not text:
        errs.add(NOT_BLANK, f"{path}.value")
        return None
    chosen = chosen or (enums[0] if enums else None)
    code = (chosen.get("code") or chosen["value"]) if chosen else None
    return {"value": text, "enum_id": chosen["id"] if chosen else None, "enum_code": code}


def read_values(data: Data, stored: list[dict] | None) -> list[dict] | None:
    """The read shape: ``{field_id, field_name, field_code, field_type, values}`` (§5.3)."""
    if not stored:
        return None
    out = []
    for row in stored:
        field = data["custom_fields"].get(row["field_id"])
        if field is None:  # the field was deleted: its values went with it (§9.1)
            continue
        out.append({"field_id": field["id"], "field_name": field["name"], "field_code": field.get("code"),
                    "field_type": field["type"], "values": copy.deepcopy(row["values"])})
    return out or None


def value_count(payload: Any) -> int:
    return len(payload) if isinstance(payload, list) else 0
