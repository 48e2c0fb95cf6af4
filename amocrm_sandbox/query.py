"""Query strings the PHP way: ``filter[statuses][0][pipeline_id]=1`` and ``filter[id][]=5`` (§4.2).

A repeated key without ``[]`` keeps only the last value, exactly as PHP does — so a client that sends
``filter[pipeline_id][0]=1&filter[pipeline_id][0]=2`` gets what it would get from amoCRM (§13.1 item 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from amocrm_sandbox.problems import ApiError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
MAX_LIMIT = 250


def php_args() -> dict[str, Any]:
    """The request's query string as nested dicts/lists."""
    tree: dict[str, Any] = {}
    for raw_key, value in request.args.items(multi=True):
        match = _KEY.match(raw_key)
        if not match:
            tree[raw_key] = value
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _insert(tree, parts, value)
    return tree


def _insert(tree: dict[str, Any], parts: list[str], value: str) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    last = parts[-1]
    if last == "":
        # ``x[]=a`` appends; PHP numbers the items 0, 1, …
        node[str(len(node))] = value
    else:
        node[last] = value


def dig(tree: dict[str, Any], *keys: str) -> Any:
    node: Any = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _values(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return list(raw.values())
    return [raw]


def int_list(raw: Any, name: str) -> list[int] | None:
    """``filter[x]=5``, ``filter[x][]=5`` or ``filter[x][0]=5`` → ``[5]``; None when absent."""
    if raw is None:
        return None
    out: list[int] = []
    for value in _values(raw):
        if isinstance(value, dict) or not re.fullmatch(r"-?\d+", str(value)):
            raise ApiError(400, f"Invalid value of {name}: must be an integer or an array of integers")
        out.append(int(value))
    return out


def str_list(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    return [str(v) for v in _values(raw) if not isinstance(v, dict)]


def int_range(raw: Any, name: str) -> tuple[int | None, int | None] | None:
    """``[from]/[to]`` range; a bare number means "from" (``filter[updated_at]=ts`` is "changed after")."""
    if raw is None:
        return None
    bounds = [raw.get("from"), raw.get("to")] if isinstance(raw, dict) else [raw, None]
    parsed: list[int | None] = []
    for bound in bounds:
        if bound is None or bound == "":
            parsed.append(None)
        elif re.fullmatch(r"-?\d+", str(bound)):
            parsed.append(int(bound))
        else:
            raise ApiError(400, f"Invalid value of {name}: must be a unix timestamp")
    return parsed[0], parsed[1]


def in_range(value: int | None, bounds: tuple[int | None, int | None] | None) -> bool:
    if bounds is None:
        return True
    if value is None:
        return False
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def flag01(raw: Any, name: str) -> bool | None:
    """Booleans in filters are ``1``/``0`` (§4.2); anything else is refused so a client sending
    ``True``/``false`` finds out here rather than on a live account."""
    if raw is None:
        return None
    if raw in ("0", "1"):
        return raw == "1"
    raise ApiError(400, f"Invalid value of {name}: expected 1 or 0")


def with_set() -> set[str]:
    return {part.strip() for part in request.args.get("with", "").split(",") if part.strip()}


def order_by(tree: dict[str, Any], allowed: set[str], default: str = "id") -> tuple[str, bool]:
    """``order[field]=asc|desc`` → (field, descending)."""
    order = tree.get("order")
    if isinstance(order, dict):
        for key, direction in order.items():
            if key in allowed and str(direction).lower() in ("asc", "desc"):
                return key, str(direction).lower() == "desc"
    return default, False


@dataclass(frozen=True)
class Paging:
    page: int
    limit: int  # as asked (and echoed in the page links)
    size: int  # as served: at most ``SandboxOptions.max_page_size``


def paging(default_limit: int = 50) -> Paging:
    """``page`` (1-based) and ``limit`` (≤ 250). Over 250 is refused with 422, as §14 asks of the emulator:
    the real behaviour is undocumented (silent clamp reported), so a client bug should surface here."""
    page = _positive(request.args.get("page"), 1, "page")
    limit = _positive(request.args.get("limit"), default_limit, "limit")
    if limit > MAX_LIMIT:
        raise ApiError(422, "Limit 250 per page")
    return Paging(page, limit, min(limit, current_app.extensions["amocrm_sandbox"].options.max_page_size))


def _positive(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"Invalid value of {name}: must be a positive integer")
    return int(raw)
