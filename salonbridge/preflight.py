"""What ``run``, ``web``, ``worker`` and ``clock`` check before they start: the settings, the database driver
and server, Redis, the tenant files and the environment variables they name. Every problem is one line
that says what to do; the command then exits 2 instead of starting (or dying later with a traceback).
"""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bridge.outage import describe
from bridge.tenancy import examine
from config.logging import mask
from config.settings import Settings
from config.tenants import read_yaml, tenant_files, unset_secrets

EXIT_PREFLIGHT = 2


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def preflight(settings: Settings, *, database: bool = True, redis: bool = True) -> Preflight:
    found = Preflight()
    if database:
        found.problems += database_problems(settings.database_url)
    if redis and settings.redis_url:
        found.problems += redis_problems(settings.redis_url)
    found.problems += tenant_problems(settings)
    return found


def database_problems(url: str) -> list[str]:
    if url.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
        return ["DATABASE_URL is a PostgreSQL URL but the PostgreSQL driver (psycopg) is not installed: "
                "pip install 'salonbridge[postgres]' (from a checkout: pip install -e '.[postgres]')"]
    from sqlalchemy import text

    from bridge.store.db import make_engine

    extra = {"connect_args": {"connect_timeout": 3}} if url.startswith("postgresql") else {}
    try:
        engine = make_engine(url, **extra)
    except Exception as exc:  # a malformed URL
        return [f"DATABASE_URL {mask(url)} is not usable: {describe(exc)}"]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return [f"the database at {_where(url)} does not answer ({describe(exc)}): start it or fix DATABASE_URL"]
    finally:
        engine.dispose()
    return []


def redis_problems(url: str) -> list[str]:
    from redis.exceptions import RedisError

    from bridge.queue import connect

    try:
        client = connect(url)
        client.ping()
    except (RedisError, ValueError, OSError) as exc:
        return [f"Redis at {_where(url)} does not answer ({describe(exc)}): start it or fix REDIS_URL "
                "(leave REDIS_URL unset to use the embedded Redis)"]
    client.close()
    return []


def tenant_problems(settings: Settings) -> list[str]:
    """Everything a starting process would refuse, plus the environment variables the files name."""
    directory = settings.tenants_dir
    if not directory.is_dir():
        return []  # a fresh install: the caller warns that every hook answers 404 until there is a tenant
    problems = [str(p) for p in examine(directory, settings.environ).problems]
    for path in tenant_files(directory):
        try:
            raw = read_yaml(path)
        except Exception:  # reported by examine already
            continue
        problems += [f"{path}: {name}: {message}" for name, message in unset_secrets(raw, settings.environ)]
    return list(dict.fromkeys(problems))


def amocrm_reachable(base_url: str, timeout_s: float = 5) -> str | None:
    """None when something listens at the account's address; else why not (DNS, refused, timeout)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _where(url: str) -> str:
    """host:port/db of a URL, never its password."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url.split("///", 1)[-1] or url
    if parts.scheme == "unix":
        return parts.path
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port}{parts.path}" if parts.port else f"{host}{parts.path}"
