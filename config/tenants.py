"""Tenant files: one YAML per salon in ``config/tenants/``, validated with marshmallow.

Secrets never live in these files: they name the environment variables that hold them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates

from config.prepayment import PrepaymentConfig, PrepaymentSchema
from config.reconnect import ReconnectSchema, ReconnectSettings

SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$", error="lowercase letters, digits and dashes")
ENV_NAME = validate.Regexp(r"^[A-Z_][A-Z0-9_]*$", error="an environment variable name (A-Z, 0-9, _)")


@dataclass(frozen=True)
class Branch:
    id: str
    name: str


@dataclass(frozen=True)
class BookingSource:
    kind: str  # "yclients" | "generic"
    webhook_token_env: str
    api_url: str = "https://api.yclients.com/api/v1"
    partner_token_env: str | None = None
    user_token_env: str | None = None
    poll_interval_s: int = 300


@dataclass(frozen=True)
class AmoCrmAccount:
    base_url: str
    client_id_env: str | None = None
    client_secret_env: str | None = None
    long_lived_token_env: str | None = None
    webhook_token_env: str | None = None
    requests_per_second: float = 7.0


@dataclass(frozen=True)
class ServiceOverride:
    category: str | None = None
    periodicity_days: int | None = None
    counts_for: tuple[str, ...] = ()  # packages: categories this service counts for


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, int] = field(default_factory=dict)  # category -> periodicity days
    services: dict[str, ServiceOverride] = field(default_factory=dict)  # service id or title -> override


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str
    timezone: ZoneInfo
    language: str
    currency: str
    country: str
    working_hour: int
    branches: tuple[Branch, ...]
    booking: BookingSource
    amocrm: AmoCrmAccount
    catalog: Catalog
    rules: dict[str, Any]
    path: Path | None = None
    prepayment: PrepaymentConfig | None = None  # None: no prepayment for this salon
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    api_token_env: str | None = None  # names the variable holding the tenant's API bearer token

    def secret(self, env_name: str | None) -> str | None:
        """The value of an environment variable this tenant names (None when unset)."""
        return os.environ.get(env_name) if env_name else None

    def branch_name(self, branch_id: str | None) -> str | None:
        return next((b.name for b in self.branches if b.id == branch_id), None)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class BranchSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1))

    @post_load
    def make(self, data: dict, **_: Any) -> Branch:
        return Branch(**data)


class BookingSchema(_Strict):
    source = fields.String(required=True, validate=validate.OneOf(["yclients", "generic"]))
    webhook_token_env = fields.String(required=True, validate=ENV_NAME)
    api_url = fields.Url(load_default="https://api.yclients.com/api/v1", require_tld=False)
    partner_token_env = fields.String(validate=ENV_NAME, load_default=None)
    user_token_env = fields.String(validate=ENV_NAME, load_default=None)
    poll_interval_s = fields.Integer(load_default=300, validate=validate.Range(min=30))

    @post_load
    def make(self, data: dict, **_: Any) -> BookingSource:
        data["kind"] = data.pop("source")
        return BookingSource(**data)


class AmoCrmSchema(_Strict):
    base_url = fields.Url(required=True, require_tld=False)
    client_id_env = fields.String(validate=ENV_NAME, load_default=None)
    client_secret_env = fields.String(validate=ENV_NAME, load_default=None)
    long_lived_token_env = fields.String(validate=ENV_NAME, load_default=None)
    webhook_token_env = fields.String(validate=ENV_NAME, load_default=None)
    requests_per_second = fields.Float(load_default=7.0, validate=validate.Range(min=0.1, max=7.0))

    @post_load
    def make(self, data: dict, **_: Any) -> AmoCrmAccount:
        return AmoCrmAccount(**data)


class ServiceOverrideSchema(_Strict):
    category = fields.String(load_default=None)
    periodicity_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=730))
    counts_for = fields.List(fields.String(), load_default=list)

    @post_load
    def make(self, data: dict, **_: Any) -> ServiceOverride:
        return ServiceOverride(data["category"], data["periodicity_days"], tuple(data["counts_for"]))


class CatalogSchema(_Strict):
    categories = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(min=1, max=730)), load_default=dict
    )
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceOverrideSchema), load_default=dict)

    @post_load
    def make(self, data: dict, **_: Any) -> Catalog:
        return Catalog(**data)


class TenantSchema(_Strict):
    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    language = fields.String(load_default="ru", validate=validate.OneOf(["ru", "uk", "en"]))
    currency = fields.String(load_default="RUB", validate=validate.Regexp(r"^[A-Z]{3}$"))
    country = fields.String(load_default="RU", validate=validate.Regexp(r"^[A-Z]{2}$"))
    working_hour = fields.Integer(load_default=10, validate=validate.Range(min=0, max=23))
    branches = fields.List(fields.Nested(BranchSchema), required=True, validate=validate.Length(min=1))
    booking = fields.Nested(BookingSchema, required=True)
    amocrm = fields.Nested(AmoCrmSchema, required=True)
    services = fields.Nested(CatalogSchema, load_default=lambda: Catalog())
    rules = fields.Dict(keys=fields.String(), load_default=dict)
    prepayment = fields.Nested(PrepaymentSchema, load_default=None)
    reconnect = fields.Nested(ReconnectSchema, load_default=ReconnectSettings)
    api_token_env = fields.String(validate=ENV_NAME, load_default=None)

    @validates("timezone")
    def known_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"unknown IANA time zone {value!r}") from exc

    @post_load
    def make(self, data: dict, **_: Any) -> Tenant:
        data["timezone"] = ZoneInfo(data["timezone"])
        data["branches"] = tuple(data["branches"])
        data["catalog"] = data.pop("services")
        return Tenant(**data)


@dataclass(frozen=True)
class ConfigProblem:
    file: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


def flatten_errors(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict → (dotted.field.path, message) pairs."""
    if isinstance(messages, dict):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            # marshmallow's Dict nests a value's errors under "value": the key is the path already
            path = prefix if key == "value" and prefix else f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, path))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix or "(file)", m) for m in messages]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten_errors(m, prefix)]
    return [(prefix or "(file)", str(messages))]


def load_tenant_file(path: Path) -> Tenant:
    """Parse and validate one tenant file; raises TenantFileError with every problem in it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TenantFileError([ConfigProblem(path, "(file)", f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise TenantFileError([ConfigProblem(path, "(file)", "expected a mapping at the top level")])
    try:
        tenant: Tenant = TenantSchema().load(raw)
    except ValidationError as exc:
        problems = [ConfigProblem(path, f, m) for f, m in flatten_errors(exc.messages)]
        raise TenantFileError(problems) from exc
    if tenant.slug != path.stem:
        raise TenantFileError([ConfigProblem(path, "slug", f"must match the file name {path.stem!r}")])
    return Tenant(**{**tenant.__dict__, "path": path})


class TenantFileError(Exception):
    def __init__(self, problems: list[ConfigProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def tenant_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))


def load_tenants(directory: Path) -> dict[str, Tenant]:
    """Every valid tenant in ``directory`` by slug; raises TenantFileError listing all invalid files."""
    tenants: dict[str, Tenant] = {}
    problems: list[ConfigProblem] = []
    for path in tenant_files(directory):
        try:
            tenant = load_tenant_file(path)
        except TenantFileError as exc:
            problems.extend(exc.problems)
            continue
        tenants[tenant.slug] = tenant
    if problems:
        raise TenantFileError(problems)
    return tenants


def check_environment(tenant: Tenant) -> list[ConfigProblem]:
    """Environment variables the tenant names but the process does not have."""
    named = {
        "booking.webhook_token_env": tenant.booking.webhook_token_env,
        "booking.partner_token_env": tenant.booking.partner_token_env,
        "booking.user_token_env": tenant.booking.user_token_env,
        "amocrm.client_id_env": tenant.amocrm.client_id_env,
        "amocrm.client_secret_env": tenant.amocrm.client_secret_env,
        "amocrm.long_lived_token_env": tenant.amocrm.long_lived_token_env,
        "amocrm.webhook_token_env": tenant.amocrm.webhook_token_env,
        "api_token_env": tenant.api_token_env,
    }
    path = tenant.path or Path(f"{tenant.slug}.yaml")
    return [
        ConfigProblem(path, fld, f"environment variable {env} is not set")
        for fld, env in named.items()
        if env and not os.environ.get(env)
    ]
