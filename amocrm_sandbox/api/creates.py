"""The batch create every entity endpoint shares: validate all items, then store each one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from amocrm_sandbox.hal import link, write_result
from amocrm_sandbox.runtime import rt
from amocrm_sandbox.state import Data
from amocrm_sandbox.validation import ItemErrors, batch_body, request_id_of, validate_batch


def create_batch(
    kind: str,
    check: Callable[[Data, dict, ItemErrors], Any],
    apply: Callable[[Data, Any, int], dict],
) -> Response:
    """``POST /api/v4/<kind>``: nothing is stored unless every item is valid, as amoCRM answers a batch."""
    items, runtime = batch_body(), rt()
    with runtime.store.write() as data:
        planned = validate_batch(items, lambda item, errs: check(data, item, errs))
        out = []
        for index, (item, plan) in enumerate(zip(items, planned, strict=True)):
            entity = apply(data, plan, runtime.ts())
            out.append({"id": entity["id"], "request_id": request_id_of(item, index),
                        "_links": link(f"/api/v4/{kind}/{entity['id']}")})
        return write_result(kind, out)
