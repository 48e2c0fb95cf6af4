"""Tenant files: one YAML per salon in the tenants folder (``config/tenants/`` by default), validated with
marshmallow, every problem reported as ``FILE: FIELD: MESSAGE``.

Secrets never live in these files: they name the environment variables that hold them, and a tenant
reads them from the environment its process's Settings were read from (``Tenant.environ``). Names that
only other layers know (booking sources, channels, triggers, stages) come in a ``Vocabulary``; loading
for a process goes through ``bridge.tenancy``, which supplies it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates, validates_schema

from config.clients import ClientSettings, ClientsSchema
from config.prepayment import PrepaymentConfig, PrepaymentSchema
from config.reconnect import ReconnectSchema, ReconnectSettings
from config.rules import Rules, RulesSchema
from config.schema import ENV_NAME, Choice, EnvName, Problems, Section, Strict, Text, WholeNumber, field_problems
from config.vocabulary import LANGUAGES, Vocabulary

SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$", error="lowercase letters, digits and dashes")
CURRENCY = re.compile(r"^[A-Z]{3}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
EXAMPLE = Path(__file__).resolve().parent / "examples" / "example.yaml"  # shipped in the wheel


@dataclass(frozen=True)
class Branch:
    id: str
    name: str


@dataclass(frozen=True)
class BookingSource:
    kind: str  # a source of bridge/booking's registry: "yclients" | "generic"
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

    @property
    def has_credentials(self) -> bool:
        """An OAuth client or a long-lived token is named (whether the variables are set is checked apart)."""
        return bool((self.client_id_env and self.client_secret_env) or self.long_lived_token_env)


@dataclass(frozen=True)
class ServiceOverride:
    category: str | None = None  # a category title, or the booking system's category id
    periodicity_days: int | None = None
    counts_for: tuple[str, ...] = ()  # packages: categories this service counts for
    no_repeat: bool = False  # ``periodicity_days: null``: this service never gets a repeat-visit task


@dataclass(frozen=True)
class Catalog:
    # category title, or the booking system's category id (digits) -> periodicity days; None: no repeat task
    categories: dict[str, int | None] = field(default_factory=dict)
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
    rules: Rules = field(default_factory=Rules)
    path: Path | None = None
    prepayment: PrepaymentConfig | None = None  # None: no prepayment for this salon
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    api_token_env: str | None = None  # names the variable holding the tenant's API bearer token
    clients: ClientSettings = field(default_factory=ClientSettings)  # tag set, saved segments, import
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # where secrets are read

    def secret(self, env_name: str | None) -> str | None:
        """The value of an environment variable this tenant names (None when unset or empty)."""
        return (self.environ.get(env_name) or None) if env_name else None

    def branch_name(self, branch_id: str | None) -> str | None:
        return next((b.name for b in self.branches if b.id == branch_id), None)


# --- schemas ----------------------------------------------------------------------------------------------


class _WithVocabulary(Strict):
    """A section that checks names against the loader's vocabulary."""

    def __init__(self, *, vocabulary: Vocabulary | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocabulary = vocabulary or Vocabulary()


class BranchSchema(Strict):
    id = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1))

    @post_load
    def make(self, data: dict, **_: Any) -> Branch:
        return Branch(**data)


class BookingSchema(_WithVocabulary):
    source = Text(required=True)
    webhook_token_env = EnvName(required=True)
    api_url = fields.Url(load_default="https://api.yclients.com/api/v1", require_tld=False)
    partner_token_env = EnvName(load_default=None)
    user_token_env = EnvName(load_default=None)
    poll_interval_s = WholeNumber(30, 86400, load_default=300)

    @validates("source")
    def known_source(self, value: str, **_: Any) -> None:
        known = self.vocabulary.sources
        if known is not None and value not in known:
            raise ValidationError(f"unknown booking source {value!r}; known: {', '.join(known)}")

    @post_load
    def make(self, data: dict, **_: Any) -> BookingSource:
        data["kind"] = data.pop("source")
        return BookingSource(**data)


class AmoCrmSchema(Strict):
    base_url = fields.Url(required=True, require_tld=False)
    client_id_env = EnvName(load_default=None)
    client_secret_env = EnvName(load_default=None)
    long_lived_token_env = EnvName(load_default=None)
    webhook_token_env = EnvName(load_default=None)
    requests_per_second = fields.Float(load_default=7.0, validate=validate.Range(min=0.1, max=7.0))

    @validates_schema
    def oauth_pair(self, data: dict, **_: Any) -> None:
        if data["client_id_env"] and not data["client_secret_env"]:
            raise ValidationError("is required with client_id_env (OAuth needs both)", "client_secret_env")
        if data["client_secret_env"] and not data["client_id_env"]:
            raise ValidationError("is required with client_secret_env (OAuth needs both)", "client_id_env")

    @post_load
    def make(self, data: dict, **_: Any) -> AmoCrmAccount:
        return AmoCrmAccount(**data)


class _Names(fields.Field):
    """A list of category names (titles or the booking system's category ids)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, ...]:
        if isinstance(value, list | tuple) and all(isinstance(v, str | int) and not isinstance(v, bool)
                                                    and str(v).strip() for v in value):
            return tuple(str(v).strip() for v in value)
        raise ValidationError("must be a list of category names")


class _CategoryName(fields.Field):
    """A category title, or the booking system's category id (a number)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
        raise ValidationError("must be a category title or the booking system's category id")


class ServiceOverrideSchema(Strict):
    category = _CategoryName()
    periodicity_days = WholeNumber(1, 730, allow_none=True)  # null: no repeat-visit task for this service
    counts_for = _Names()

    @post_load
    def make(self, data: dict, **_: Any) -> ServiceOverride:
        no_repeat = "periodicity_days" in data and data["periodicity_days"] is None
        return ServiceOverride(data.get("category"), data.get("periodicity_days"), data.get("counts_for", ()),
                               no_repeat)


class _Keyed(fields.Field):
    """A mapping keyed by a name or an id (YAML may give ids as numbers); each value read by ``read``."""

    def __init__(self, read: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read = read

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValidationError("must be a mapping")
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int) or not str(key).strip():
                errors[str(key)] = ["must be a name or an id"]
                continue
            try:
                out[str(key).strip()] = self.read(item)
            except ValidationError as exc:
                errors[str(key)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out


def _days(value: Any) -> int | None:
    """A category's periodicity in days; ``null`` says "no repeat-visit task"."""
    return None if value is None else WholeNumber(1, 730).deserialize(value)


def _without_empty(data: Any, keys: tuple[str, ...]) -> Any:
    """A section written with no value (``rules:`` alone on its line) is an empty section, not an error."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (k in keys and v is None)}
    return data


class CatalogSchema(Strict):
    categories = _Keyed(_days, load_default=dict)
    services = _Keyed(lambda item: ServiceOverrideSchema().load(item), load_default=dict)

    @pre_load
    def empty_sections(self, data: Any, **_: Any) -> Any:
        return _without_empty(data, ("categories", "services"))

    @post_load
    def make(self, data: dict, **_: Any) -> Catalog:
        return Catalog(**data)


class TenantSchema(_WithVocabulary):
    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    language = Choice(LANGUAGES, load_default="ru")
    currency = Text(load_default="RUB", pattern=CURRENCY, echo=True,
                    hint="expected a 3-letter ISO 4217 currency code in capitals, e.g. UAH, RUB, EUR")
    country = Text(load_default="RU", pattern=COUNTRY, echo=True,
                   hint="expected a 2-letter ISO 3166 country code in capitals, e.g. UA, RU, KZ")
    working_hour = WholeNumber(0, 23, load_default=10)
    branches = fields.List(fields.Nested(BranchSchema), required=True, validate=validate.Length(min=1))
    booking = Section(BookingSchema, required=True)
    amocrm = fields.Nested(AmoCrmSchema, required=True)
    services = fields.Nested(CatalogSchema, load_default=lambda: Catalog())
    rules = Section(RulesSchema, load_default=Rules)
    prepayment = fields.Nested(PrepaymentSchema, load_default=None)
    reconnect = fields.Nested(ReconnectSchema, load_default=ReconnectSettings)
    api_token_env = EnvName(load_default=None)
    clients = fields.Nested(ClientsSchema, load_default=ClientSettings)

    @pre_load
    def empty_sections(self, data: Any, **_: Any) -> Any:
        return _without_empty(data, ("services", "rules", "prepayment"))

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


# --- problems and loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    file: Path
    field: str
    message: str
    note: bool = False  # worth saying, not wrong: ``check`` prints it and still passes

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class TenantFileError(Exception):
    def __init__(self, problems: list[ConfigProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; raises TenantFileError when it is not readable YAML or not a mapping."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TenantFileError([ConfigProblem(path, "(file)", f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise TenantFileError([ConfigProblem(path, "(file)", "expected a mapping at the top level")])
    return raw


def tenant_problems(raw: Mapping[str, Any], vocabulary: Vocabulary) -> tuple[Tenant | None, Problems]:
    """The tenant a parsed file describes, or None with every (field path, message) that stops it."""
    try:
        return TenantSchema(vocabulary=vocabulary).load(raw), []
    except ValidationError as exc:
        return None, field_problems(exc.messages)


def tenant_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))


def unset_secrets(raw: Any, environ: Mapping[str, str], prefix: str = "") -> Problems:
    """Every ``*_env`` setting anywhere in a parsed file whose variable the environment lacks.

    Read from the raw file, so the secrets of a section are reported even when another part is invalid.
    """
    problems: Problems = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if str(key).endswith("_env") and isinstance(value, str) and ENV_NAME.match(value):
                if not environ.get(value):
                    problems.append((path, f"environment variable {value} is not set"))
            else:
                problems.extend(unset_secrets(value, environ, path))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            problems.extend(unset_secrets(value, environ, f"{prefix}.{i}"))
    return problems


def credential_problems(tenant: Tenant) -> Problems:
    """A tenant whose file names no way to reach its amoCRM (its events would pile up unsent)."""
    if tenant.amocrm.has_credentials:
        return []
    return [("amocrm", "names no credentials: add client_id_env and client_secret_env (OAuth), "
                       "or long_lived_token_env (a private integration's token)")]

