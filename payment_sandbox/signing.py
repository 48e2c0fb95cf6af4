"""The providers' signatures, written again here on purpose: a fake that shared salonbridge's code would
agree with any mistake in it. Formulas from spec/payments.md §1.3 and §2.2."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any


def liqpay_data(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, ensure_ascii=False).encode("utf-8")).decode("ascii")


def liqpay_signature(private_key: str, data: str, version: int) -> str:
    algorithm = hashlib.sha3_256 if version >= 7 else hashlib.sha1
    return base64.b64encode(algorithm((private_key + data + private_key).encode("utf-8")).digest()).decode("ascii")


def liqpay_valid(private_key: str, data: str, signature: str, version: int) -> bool:
    return hmac.compare_digest(liqpay_signature(private_key, data, version).encode(), signature.encode("ascii",
                                                                                                      "replace"))


def wfp_signature(secret: str, fields: Iterable[Any]) -> str:
    return hmac.new(secret.encode("utf-8"), ";".join(str(f) for f in fields).encode("utf-8"), hashlib.md5).hexdigest()


def wfp_valid(secret: str, fields: Iterable[Any], signature: Any) -> bool:
    return hmac.compare_digest(wfp_signature(secret, fields).encode(), str(signature or "").lower().encode("ascii",
                                                                                                            "replace"))


def json_amount(amount: Decimal) -> int | float:
    """An amount as the JSON number a provider sends (``300``, ``300.5``)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def amount_text(amount: Decimal) -> str:
    """How the JSON number above reads, i.e. the text that is signed."""
    return json.dumps(json_amount(amount))
