"""Engine, sessions and migrations for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, first_in_line: bool = False, **kwargs: Any) -> Engine:
    """An engine tuned per backend: SQLite gets WAL, a busy timeout and write-locking transactions.

    ``first_in_line`` (the web process): on SQLite, a write transaction that finds the database locked
    asks again every half millisecond instead of through SQLite's busy handler, whose sleeps grow to 100 ms
    and let the workers' next transactions in first (see ``_begin_write``). PostgreSQL needs nothing: the
    intake's inserts wait for no other transaction's locks.

    Statement parameters (phones, names, tokens) are kept out of error messages, which end up in logs."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _tune_sqlite(engine, first_in_line)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **kwargs)
    if engine.dialect.name == "postgresql":
        _tune_postgresql(engine)
    return engine


def _tune_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # No JIT compilation: our statements touch a few rows each, but on tables without fresh statistics
        # (after a bulk load) their estimated cost passes jit_above_cost, and compiling them took 8-12 ms
        # for a query that runs in 0.05 ms (a client's snapshot at 100,000 clients).
        with dbapi_conn.cursor() as cur:
            cur.execute("SET jit = off")
        dbapi_conn.commit()


def _tune_sqlite(engine: Engine, first_in_line: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is locked"
        # instead of waiting; taking the write lock up front makes the busy timeout apply. Long reads
        # (``Store.reading``) never write, so they take a plain snapshot and hold no lock.
        if conn.get_execution_options().get("read_only"):
            conn.exec_driver_sql("BEGIN")
        elif first_in_line:
            _begin_write(conn)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


BUSY_TIMEOUT_MS = 30_000
POLL_S = 0.0005  # first in line: how often a write transaction asks for the lock while it is taken


def _begin_write(conn: Any) -> None:
    """``BEGIN IMMEDIATE``, asking again every ``POLL_S`` while another connection writes.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … then 100 ms between attempts, so a waiter
    misses the moment the lock is free and a worker's next transaction takes it first: under a burst the
    intake's insert (under a millisecond) waited 140-230 ms at the 99th percentile behind transactions of
    a few milliseconds. Asking every half millisecond costs a few microseconds per attempt. Past the busy
    timeout the last attempt raises "database is locked" (SQLAlchemy's OperationalError) as before."""
    raw = conn.connection.dbapi_connection
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    break  # not a wait: the attempt below raises it as SQLAlchemy's usual error
            time.sleep(POLL_S)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Store:
    """One engine and session factory per process; repositories take the sessions it opens."""

    def __init__(self, url: str, *, first_in_line: bool = False, **engine_kwargs: Any):
        self.url = url
        self.engine = make_engine(url, first_in_line=first_in_line, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only snapshot for long reads (scans, reports) that never holds up writers such as the intake."""
        with self.engine.connect().execution_options(read_only=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to run on every start)."""
        from alembic import command

        with self.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg
