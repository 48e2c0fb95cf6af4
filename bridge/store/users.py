"""Dashboard users: created by ``salonbridge users add``, checked at sign-in.

Passwords are hashed with werkzeug's scrypt; a sign-in for an unknown name still computes one hash, so
the answer time does not tell which names exist.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from bridge.store.db import Store
from bridge.store.models import DashboardUser

ADMIN = "admin"
MANAGER = "manager"
ROLES = (ADMIN, MANAGER)
LANGUAGES = ("ru", "uk", "en")
MIN_PASSWORD = 10
HASH_METHOD = "scrypt"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_DUMMY_HASH = generate_password_hash("not a password of anyone", method=HASH_METHOD)


class UserError(ValueError):
    """A user that cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    tenant: str | None
    language: str | None
    stamp: str  # changes with the password: a session signed in before a change is no longer valid

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def may_see(self, tenant: str) -> bool:
        return self.is_admin or self.tenant == tenant


def _user(row: DashboardUser) -> User:
    stamp = hashlib.sha256(row.password_hash.encode()).hexdigest()[:16]
    return User(row.id, row.username, row.role, row.tenant, row.language, stamp)


def normalize_username(name: str) -> str:
    return name.strip().lower()


def validate(username: str, password: str, role: str, tenant: str | None, language: str | None) -> None:
    if not _USERNAME.match(username):
        raise UserError("a user name is 2-64 characters: letters a-z, digits, '.', '_', '-', '@'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == MANAGER and not tenant:
        raise UserError("a salon manager needs the tenant they manage (--tenant)")
    if role == ADMIN and tenant:
        raise UserError("an agency admin sees every tenant; give no --tenant")
    if language is not None and language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def add(store: Store, username: str, password: str, *, role: str, tenant: str | None, now: datetime,
        language: str | None = None) -> User:
    """A new user; UserError when the values are not acceptable or the name is taken."""
    username = normalize_username(username)
    validate(username, password, role, tenant, language)
    row = DashboardUser(username=username, password_hash=generate_password_hash(password, method=HASH_METHOD),
                        role=role, tenant=tenant, language=language, created_at=now)
    try:
        with store.session() as s:
            s.add(row)
            s.flush()
            return _user(row)
    except IntegrityError as exc:
        raise UserError(f"a user named {username!r} already exists") from exc


def set_password(store: Store, username: str, password: str) -> bool:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    with store.session() as s:
        done = s.execute(update(DashboardUser).where(DashboardUser.username == normalize_username(username))
                         .values(password_hash=generate_password_hash(password, method=HASH_METHOD)))
        return done.rowcount == 1


def remove(store: Store, username: str) -> bool:
    with store.session() as s:
        return s.execute(delete(DashboardUser).where(DashboardUser.username == normalize_username(username))
                         ).rowcount == 1


def authenticate(store: Store, username: str, password: str, now: datetime) -> User | None:
    """The user when the password is theirs (and their last sign-in is recorded), else None."""
    with store.session() as s:
        row = s.scalar(select(DashboardUser).where(DashboardUser.username == normalize_username(username)))
        if row is None:
            check_password_hash(_DUMMY_HASH, password)  # the same work as for a real name
            return None
        if not check_password_hash(row.password_hash, password):
            return None
        row.last_login_at = now
        return _user(row)


def get(store: Store, user_id: int) -> User | None:
    with store.session() as s:
        row = s.get(DashboardUser, user_id)
        return _user(row) if row else None


def set_language(store: Store, user_id: int, language: str | None) -> None:
    if language is not None and language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
    with store.session() as s:
        s.execute(update(DashboardUser).where(DashboardUser.id == user_id).values(language=language))


def all_users(store: Store) -> list[tuple[User, datetime | None]]:
    """Every user with their last sign-in, by name."""
    with store.session() as s:
        rows = s.scalars(select(DashboardUser).order_by(DashboardUser.username))
        return [(_user(r), r.last_login_at) for r in rows]
