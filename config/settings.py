"""Process settings, read once from the environment by each entry point and passed down.

This is the only module that reads the environment. The secrets a tenant file names (``*_env``) are
looked up in ``Settings.environ``, the mapping the settings were read from: the live process
environment in production, an explicit mapping in tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

DEV_SECRET_KEY = "dev-only-not-secret"


class SettingsError(ValueError):
    """One or more environment variables are invalid; the message lists every problem."""


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    redis_url: str | None  # None: an embedded Redis under instance_dir
    tenants_dir: Path
    secret_key: str
    log_level: str = "INFO"
    log_json: bool = False
    public_url: str = "http://127.0.0.1:8000"
    queue_name: str = "salonbridge"
    sweep_after_s: int = 10
    max_body_bytes: int = 1024 * 1024
    token_key: str | None = None  # SALONBRIDGE_TOKEN_KEY: encrypts stored amoCRM tokens (else SECRET_KEY)
    web_bind: str = "127.0.0.1:8000"  # gunicorn's bind: SALONBRIDGE_BIND, else 127.0.0.1:$PORT
    web_workers: int = 2  # WEB_CONCURRENCY
    access_log: bool = False  # SALONBRIDGE_ACCESS_LOG
    earliest_date: date = date(1900, 1, 1)  # SALONBRIDGE_EARLIEST_DATE: older dates in a delivery are a 422
    years_ahead: int = 5  # SALONBRIDGE_YEARS_AHEAD: dates further than this ahead of now are a 422
    max_event_attempts: int = 3  # SALONBRIDGE_MAX_ATTEMPTS: an event failing this often is parked as failed
    crm_coalesce_s: int = 5  # SALONBRIDGE_CRM_COALESCE_S: a tenant's amoCRM work gathers until quiet this long
    # SALONBRIDGE_BACKGROUND_NICE: workers and the clock run at this OS niceness (0-19), the web at its own,
    # so on a shared CPU the webhook is answered first and background work waits. Default: 10 on PostgreSQL,
    # 0 on SQLite, whose one write lock a niced worker would hold while the web it yields to waits for it
    background_nice: int = 10
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def secret(self, name: str | None) -> str | None:
        """The value of the environment variable ``name`` (None when unset or empty)."""
        return (self.environ.get(name) or None) if name else None

    @property
    def embedded_redis_path(self) -> Path:
        return self.instance_dir / "redis.db"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); raises SettingsError listing all faults."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        instance = Path(env.get("SALONBRIDGE_INSTANCE", "instance")).resolve()
        level = env.get("SALONBRIDGE_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            problems.append(f"SALONBRIDGE_LOG_LEVEL: unknown level {level!r}")
        db_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'salonbridge.db'}"
        if db_url.startswith("postgres://"):
            db_url = "postgresql+psycopg://" + db_url.removeprefix("postgres://")
        elif db_url.startswith("postgresql://"):
            db_url = "postgresql+psycopg://" + db_url.removeprefix("postgresql://")
        if not db_url.startswith(("sqlite", "postgresql")):
            problems.append("DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported")
        redis_url = env.get("REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            problems.append("REDIS_URL: expected redis://, rediss:// or unix://")
        sweep = env.get("SALONBRIDGE_SWEEP_AFTER_S", "10")
        if not sweep.isdigit():
            problems.append("SALONBRIDGE_SWEEP_AFTER_S: expected a whole number of seconds")
        web_workers = env.get("WEB_CONCURRENCY", "2")
        if not web_workers.isdigit() or int(web_workers) < 1:
            problems.append("WEB_CONCURRENCY: expected a whole number of web processes (1 or more)")
        earliest = env.get("SALONBRIDGE_EARLIEST_DATE", "1900-01-01")
        try:
            earliest_date = date.fromisoformat(earliest)
        except ValueError:
            problems.append("SALONBRIDGE_EARLIEST_DATE: expected a date, e.g. 1900-01-01")
            earliest_date = date(1900, 1, 1)
        years_ahead = env.get("SALONBRIDGE_YEARS_AHEAD", "5")
        if not years_ahead.isdigit() or not 1 <= int(years_ahead) <= 100:
            problems.append("SALONBRIDGE_YEARS_AHEAD: expected a whole number of years, 1 to 100")
        attempts = _whole(env, "SALONBRIDGE_MAX_ATTEMPTS", 3, (1, 100), "attempts", problems)
        coalesce = _whole(env, "SALONBRIDGE_CRM_COALESCE_S", 5, (0, 300), "seconds", problems)
        nice = _whole(env, "SALONBRIDGE_BACKGROUND_NICE", default_nice(db_url), (0, 19), "niceness steps", problems)
        if problems:
            raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
        return cls(
            instance_dir=instance,
            database_url=db_url,
            redis_url=redis_url,
            tenants_dir=Path(env.get("SALONBRIDGE_TENANTS", "config/tenants")).resolve(),
            secret_key=env.get("SECRET_KEY") or DEV_SECRET_KEY,
            log_level=level,
            log_json=env.get("SALONBRIDGE_LOG_JSON", "") in {"1", "true", "yes"},
            public_url=env.get("SALONBRIDGE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            sweep_after_s=int(sweep),
            token_key=env.get("SALONBRIDGE_TOKEN_KEY") or None,
            web_bind=env.get("SALONBRIDGE_BIND") or f"127.0.0.1:{env.get('PORT') or '8000'}",
            web_workers=int(web_workers),
            access_log=bool(env.get("SALONBRIDGE_ACCESS_LOG")),
            earliest_date=earliest_date,
            years_ahead=int(years_ahead),
            max_event_attempts=attempts,
            crm_coalesce_s=coalesce,
            background_nice=nice,
            environ=env,
        )

    def with_redis(self, url: str) -> Settings:
        """A copy pointing at a started Redis (the embedded one handed to child processes)."""
        return replace(self, redis_url=url)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        env = {
            "SALONBRIDGE_INSTANCE": str(self.instance_dir),
            "DATABASE_URL": self.database_url,
            "SALONBRIDGE_TENANTS": str(self.tenants_dir),
            "SECRET_KEY": self.secret_key,
            "SALONBRIDGE_LOG_LEVEL": self.log_level,
            "SALONBRIDGE_PUBLIC_URL": self.public_url,
            "SALONBRIDGE_SWEEP_AFTER_S": str(self.sweep_after_s),
            "SALONBRIDGE_EARLIEST_DATE": self.earliest_date.isoformat(),
            "SALONBRIDGE_YEARS_AHEAD": str(self.years_ahead),
            "SALONBRIDGE_MAX_ATTEMPTS": str(self.max_event_attempts),
            "SALONBRIDGE_CRM_COALESCE_S": str(self.crm_coalesce_s),
            "SALONBRIDGE_BACKGROUND_NICE": str(self.background_nice),
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.token_key:
            env["SALONBRIDGE_TOKEN_KEY"] = self.token_key
        return env


def default_nice(database_url: str) -> int:
    """The workers' and the clock's niceness unless set: 10 to let the web go first, but 0 on SQLite.

    SQLite has one write lock for the whole database. A niced worker that holds it, when the CPUs are busy,
    gets a fraction of a core, and the webhook waiting for the lock waits for it at that pace (the lower
    priority raised the intake's 99th percentile from 11 to 34 ms at niceness 10 and 64 ms at 19 in
    ``bench/load.py --rate 100``). PostgreSQL's row locks do not put the intake behind the workers."""
    return 0 if database_url.startswith("sqlite") else 10


def _whole(env: Mapping[str, str], name: str, default: int, bounds: tuple[int, int], unit: str,
           problems: list[str]) -> int:
    """A whole number from ``env[name]`` within ``bounds``; a problem is noted (and the default used) if not."""
    raw = env.get(name, str(default))
    if raw.isdigit() and bounds[0] <= int(raw) <= bounds[1]:
        return int(raw)
    problems.append(f"{name}: expected a whole number of {unit}, {bounds[0]} to {bounds[1]}")
    return default
