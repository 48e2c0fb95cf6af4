"""The ``prepayment:`` section of a tenant file, validated with marshmallow.

Errors surface through the tenant schema with their field path (``prepayment.rules.0.amount: ...``), so
``salonbridge check`` prints them as ``FILE: FIELD: MESSAGE`` like every other problem. What needs the
rest of the file or the environment (the currency a provider accepts, the secrets being set, the public
test merchant) is checked by ``prepayment_problems`` and ``prepayment_env_problems``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from config.prepayment_model import (
    LIQPAY_API_URL,
    LIQPAY_CHECKOUT_URL,
    WAYFORPAY_API_URL,
    WAYFORPAY_PAY_URL,
    WAYFORPAY_PUBLIC_TEST_ACCOUNT,
    AmountKind,
    AmountSpec,
    DeadlineRule,
    Exemptions,
    LiqPaySettings,
    PaidThenCancelled,
    Period,
    PrepaymentConfig,
    PrepaymentRule,
    PrepaymentTemplates,
    TooClose,
    WayForPaySettings,
)

ENV_NAME = validate.Regexp(r"^[A-Z_][A-Z0-9_]*$", error="an environment variable name (A-Z, 0-9, _)")
TEMPLATE_ID = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="a template id (lowercase letters, digits, _)")
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="an ISO 4217 code such as UAH")
# Currencies each provider takes (spec/payments.md §1.2, §2.3).
PROVIDER_CURRENCIES = {"liqpay": ("UAH", "USD", "EUR"), "wayforpay": ("UAH", "USD", "EUR")}
_POSITIVE = validate.Range(min=0, min_inclusive=False)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PeriodSchema(_Strict):
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")

    @validates_schema
    def ordered(self, data: dict, **_: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("must not be before 'from'", "to")

    @post_load
    def make(self, data: dict, **_: Any) -> Period:
        return Period(**data)


class AmountSchema(_Strict):
    """Exactly one of ``fixed``, ``percent``, ``hourly_rate``; optional ``min``/``max`` bounds."""

    fixed = fields.Decimal(validate=_POSITIVE)
    percent = fields.Decimal(validate=validate.Range(min=0, max=100, min_inclusive=False))
    hourly_rate = fields.Decimal(validate=_POSITIVE)
    staff_rates = fields.Dict(keys=fields.String(), values=fields.Decimal(validate=_POSITIVE), load_default=dict)
    min = fields.Decimal(validate=_POSITIVE, load_default=None)
    max = fields.Decimal(validate=_POSITIVE, load_default=None)

    @validates_schema
    def one_kind(self, data: dict, **_: Any) -> None:
        given = [k for k in ("fixed", "percent", "hourly_rate") if k in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of fixed, percent, hourly_rate")
        if data["staff_rates"] and "hourly_rate" not in data:
            raise ValidationError("only with hourly_rate", "staff_rates")
        if data["min"] is not None and data["max"] is not None and data["max"] < data["min"]:
            raise ValidationError("must not be below min", "max")

    @post_load
    def make(self, data: dict, **_: Any) -> AmountSpec:
        kind = {"fixed": AmountKind.FIXED, "percent": AmountKind.PERCENT, "hourly_rate": AmountKind.HOURLY}
        name = next(k for k in kind if k in data)
        return AmountSpec(kind[name], data[name], dict(data["staff_rates"]), data["min"], data["max"])


class AmountField(fields.Nested):
    """The amount, with its whole-object problems reported at ``…amount`` itself (not ``…amount._schema``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(AmountSchema, **kwargs)

    def _deserialize(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._deserialize(*args, **kwargs)
        except ValidationError as exc:
            messages = exc.messages
            if isinstance(messages, dict) and set(messages) == {"_schema"}:
                raise ValidationError(messages["_schema"]) from exc
            raise


class RuleSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    services = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    categories = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    promo = fields.Boolean(load_default=False)
    periods = fields.List(fields.Nested(PeriodSchema), load_default=list)
    branches = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    amount = AmountField(load_default=None)

    @post_load
    def make(self, data: dict, **_: Any) -> PrepaymentRule:
        return PrepaymentRule(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class ExemptSchema(_Strict):
    tags = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    card_types = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    segments = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    completed_visits = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1))

    @post_load
    def make(self, data: dict, **_: Any) -> Exemptions:
        return Exemptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class DeadlineSchema(_Strict):
    hours_after_booking = fields.Integer(strict=True, load_default=24, validate=validate.Range(min=1, max=24 * 30))
    hours_before_visit = fields.Integer(strict=True, load_default=12, validate=validate.Range(min=0, max=24 * 30))
    too_close = fields.Enum(TooClose, by_value=True, load_default=TooClose.IMMEDIATE)
    immediate_minutes = fields.Integer(strict=True, load_default=30, validate=validate.Range(min=5, max=24 * 60))

    @post_load
    def make(self, data: dict, **_: Any) -> DeadlineRule:
        return DeadlineRule(**data)


class LiqPaySchema(_Strict):
    public_key_env = fields.String(required=True, validate=ENV_NAME)
    private_key_env = fields.String(required=True, validate=ENV_NAME)
    signature = fields.String(load_default="sha1", validate=validate.OneOf(["sha1", "sha3-256"]))
    sandbox = fields.Boolean(load_default=False)
    checkout_url = fields.Url(load_default=LIQPAY_CHECKOUT_URL, require_tld=False)
    api_url = fields.Url(load_default=LIQPAY_API_URL, require_tld=False)

    @post_load
    def make(self, data: dict, **_: Any) -> LiqPaySettings:
        return LiqPaySettings(**data)


class WayForPaySchema(_Strict):
    merchant_account = fields.String(required=True, validate=validate.Length(min=1, max=128))
    secret_key_env = fields.String(required=True, validate=ENV_NAME)
    domain = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9.-]+$", error="a domain name"))
    pay_url = fields.Url(load_default=WAYFORPAY_PAY_URL, require_tld=False)
    api_url = fields.Url(load_default=WAYFORPAY_API_URL, require_tld=False)
    test_mode = fields.Boolean(load_default=False)

    @validates_schema
    def not_public_test_merchant(self, data: dict, **_: Any) -> None:
        if data.get("merchant_account") == WAYFORPAY_PUBLIC_TEST_ACCOUNT and not data.get("test_mode"):
            raise ValidationError("the public test merchant: anyone can forge its callbacks; set test_mode: true "
                                  "only for tests", "merchant_account")

    @post_load
    def make(self, data: dict, **_: Any) -> WayForPaySettings:
        return WayForPaySettings(**data)


class TemplatesSchema(_Strict):
    link = fields.String(load_default="prepayment_link", validate=TEMPLATE_ID)
    paid = fields.String(load_default="prepayment_paid", validate=TEMPLATE_ID)
    expired = fields.String(load_default="prepayment_expired", validate=TEMPLATE_ID)

    @post_load
    def make(self, data: dict, **_: Any) -> PrepaymentTemplates:
        return PrepaymentTemplates(**data)


class PrepaymentSchema(_Strict):
    enabled = fields.Boolean(load_default=True)
    provider = fields.String(required=True, validate=validate.OneOf(sorted(PROVIDER_CURRENCIES)))
    liqpay = fields.Nested(LiqPaySchema, load_default=None)
    wayforpay = fields.Nested(WayForPaySchema, load_default=None)
    currency = fields.String(load_default=None, validate=CURRENCY)
    amount = AmountField(load_default=None)
    rules = fields.List(fields.Nested(RuleSchema), required=True, validate=validate.Length(min=1))
    promo_services = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    exempt = fields.Nested(ExemptSchema, load_default=lambda: Exemptions())
    deadline = fields.Nested(DeadlineSchema, load_default=lambda: DeadlineRule())
    paid_then_cancelled = fields.Enum(PaidThenCancelled, by_value=True, load_default=PaidThenCancelled.KEEP)
    templates = fields.Nested(TemplatesSchema, load_default=lambda: PrepaymentTemplates())

    @validates_schema
    def consistent(self, data: dict, **_: Any) -> None:
        provider = data.get("provider")
        if provider and data.get(provider) is None:
            raise ValidationError(f"the {provider} section is required when provider is {provider}", provider)
        for i, rule in enumerate(data.get("rules") or ()):
            if isinstance(rule, PrepaymentRule) and rule.amount is None and data.get("amount") is None:
                raise ValidationError({str(i): {"amount": ["required: the section has no default amount"]}},
                                      "rules")
            if isinstance(rule, PrepaymentRule) and rule.promo and not data.get("promo_services"):
                raise ValidationError("promo rules need the section's promo_services", "promo_services")
        names = [r.name for r in data.get("rules") or () if isinstance(r, PrepaymentRule)]
        if len(set(names)) != len(names):
            raise ValidationError("rule names must be unique (they are shown in the report)", "rules")
        currency = data.get("currency")
        for name in PROVIDER_CURRENCIES:
            if currency and data.get(name) is not None and currency not in PROVIDER_CURRENCIES[name]:
                raise ValidationError(f"{name} accepts {', '.join(PROVIDER_CURRENCIES[name])}", "currency")

    @post_load
    def make(self, data: dict, **_: Any) -> PrepaymentConfig:
        return PrepaymentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def prepayment_problems(config: PrepaymentConfig | None, tenant_currency: str) -> list[tuple[str, str]]:
    """(field, message) problems that need the rest of the tenant file: the currency the providers take."""
    if config is None or config.currency:
        return []  # an explicit currency was checked on load
    return [
        ("prepayment.currency", f"the tenant's currency {tenant_currency} is not accepted by {name} "
                                f"({', '.join(accepted)}); set prepayment.currency")
        for name, accepted in PROVIDER_CURRENCIES.items()
        if config.provider_settings(name) is not None and tenant_currency not in accepted
    ]


def secret_envs(config: PrepaymentConfig | None) -> dict[str, str]:
    """Environment variables the section names, by field path."""
    if config is None:
        return {}
    named = {}
    if config.liqpay:
        named["prepayment.liqpay.public_key_env"] = config.liqpay.public_key_env
        named["prepayment.liqpay.private_key_env"] = config.liqpay.private_key_env
    if config.wayforpay:
        named["prepayment.wayforpay.secret_key_env"] = config.wayforpay.secret_key_env
    return named


def prepayment_env_problems(config: PrepaymentConfig | None, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(field, message) for every secret the section names that ``environ`` lacks (values never shown)."""
    problems = []
    for path, env in secret_envs(config).items():
        value = environ.get(env)
        if not value:
            problems.append((path, f"environment variable {env} is not set"))
        elif re.search(r"\s", value):
            problems.append((path, f"environment variable {env} contains whitespace"))
    return problems
