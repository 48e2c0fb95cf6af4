"""Locks on one person held by the database transaction itself, so they end with it.

Events of one person are serialized so that two workers never create the same new client twice. The
lock lives exactly as long as the transaction that plans and records the event: commit, rollback or a
dropped connection (a killed worker) frees it at once, and a slow job keeps it as long as it runs.
Taking it costs no round trip to Redis and no renewal thread.
"""

from __future__ import annotations

from hashlib import blake2b

from sqlalchemy import bindparam, select
from sqlalchemy import func as sql
from sqlalchemy.orm import Session

_ADVISORY = select(sql.pg_advisory_xact_lock(bindparam("key")))


def hold(session: Session, name: str) -> None:
    """Keep every other transaction holding ``name`` waiting until this transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the name's 64-bit hash (one statement). SQLite:
    nothing to take, since every write transaction (``BEGIN IMMEDIATE``) already excludes every other
    writer of the database file, in this process and in others.
    """
    conn = session.connection()  # SQLite: the write transaction has begun (a no-op once it has)
    if conn.dialect.name == "postgresql":
        conn.execute(_ADVISORY, {"key": key_of(name)})


def key_of(name: str) -> int:
    """The signed 64-bit key PostgreSQL's advisory locks take, stable across processes and releases."""
    return int.from_bytes(blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
