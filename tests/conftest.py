"""Shared fixtures. Store/queue-level tests run once per available backend:
SQLite + embedded Redis always, PostgreSQL + Redis server when they answer on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import uuid
from collections import ChainMap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge import telemetry
from bridge.queue import connect, embedded_redis, embedded_url, stop_embedded
from bridge.services import Services
from config.settings import Settings

PG_URL = os.environ.get("SALONBRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SALONBRIDGE_TEST_REDIS", "redis://127.0.0.1:6379")
TOKEN = "t0ken-for-tests-0123456789"
TOKEN_ENV = "SALON_TEST_WEBHOOK_TOKEN"

TENANT_YAML = f"""slug: salon
name: Test Salon
timezone: Europe/Kyiv
language: uk
currency: UAH
country: UA
branches:
  - {{id: "111111", name: "Центр"}}
  - {{id: "111112", name: "Поділ"}}
booking:
  source: yclients
  webhook_token_env: {TOKEN_ENV}
amocrm:
  base_url: http://127.0.0.1:9
services:
  services:
    "3333": {{category: Манікюр, periodicity_days: 21}}
    "4444": {{category: Педикюр, periodicity_days: 28}}
"""


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _postgres_available() -> bool:
    if not _port_open("127.0.0.1", 5432):
        return False
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = ["sqlite"] + (["postgres"] if _postgres_available() and _port_open("127.0.0.1", 6379) else [])


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = embedded_redis(tmp_path_factory.mktemp("redis") / "redis.db")
    yield embedded_url(server)
    stop_embedded(server)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A database of the Redis server reserved for this test session, so parallel runs never flush each other."""
    admin = connect(f"{REDIS_URL}/0")
    for db in range(1, 16):
        claim = f"salonbridge-tests:db:{db}"
        if admin.set(claim, os.getpid(), nx=True, ex=3600):
            try:
                yield f"{REDIS_URL}/{db}"
            finally:
                admin.delete(claim)
            return
    pytest.skip("every Redis database is reserved by another test session")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, embedded_redis_url: str) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'salonbridge.db'}", embedded_redis_url)
        telemetry.flush()  # what the test's jobs observed goes out before Redis is emptied, not into the next test
        connect(embedded_redis_url).flushdb()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    redis_url = request.getfixturevalue("redis_server_url")
    telemetry.flush()
    connect(redis_url).flushdb()
    try:
        yield Backend("postgres", f"{PG_URL}?options=-csearch_path%3D{schema}", redis_url)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        telemetry.flush()
        connect(redis_url).flushdb()


@pytest.fixture
def tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "salon.yaml").write_text(TENANT_YAML, encoding="utf-8")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return folder


@pytest.fixture
def settings(backend: Backend, tenants_dir: Path, tmp_path: Path) -> Settings:
    own = {
        "SALONBRIDGE_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "SALONBRIDGE_TENANTS": str(tenants_dir),
        "SALONBRIDGE_LOG_LEVEL": "WARNING",
        "SALONBRIDGE_SWEEP_AFTER_S": "1",
    }
    return Settings.from_env(ChainMap(own, os.environ))  # tenant secrets: the (monkeypatched) process environment


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()
