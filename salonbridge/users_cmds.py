"""``salonbridge users``: the people who sign in to the dashboard."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from bridge.store import users as repo


def _store(*, migrate: bool = False):
    from bridge.store.db import Store
    from salonbridge.cli import _settings

    settings = _settings()
    store = Store(settings.database_url)
    if migrate:  # the first user of a fresh install may come before anything else ran
        store.migrate()
    return settings, store


def _new_password(prompt: str) -> str:
    """From SALONBRIDGE_NEW_PASSWORD (scripts), else asked twice without echo; never a command-line argument,
    which would stay in the shell's history and show in the process list."""
    return os.environ.get("SALONBRIDGE_NEW_PASSWORD") or click.prompt(prompt, hide_input=True,
                                                                      confirmation_prompt=True)


@click.group()
def users() -> None:
    """Dashboard users: agency admins see every salon, salon managers only their own."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(repo.ROLES), default=repo.MANAGER, show_default=True,
              help="admin: the agency, every tenant; manager: one salon (give --tenant).")
@click.option("--tenant", help="The salon a manager sees (its slug).")
@click.option("--language", type=click.Choice(repo.LANGUAGES), help="Dashboard language (default: the salon's).")
def add(username: str, role: str, tenant: str | None, language: str | None) -> None:
    """Create the dashboard user USERNAME. The password (at least 10 characters) is prompted for twice, or
    read from SALONBRIDGE_NEW_PASSWORD in scripts, and stored as a scrypt hash."""
    settings, store = _settings_and_tenants(tenant)
    password = _new_password("Password")
    try:
        user = repo.add(store, username, password, role=role, tenant=tenant, language=language,
                        now=datetime.now(UTC))
    except repo.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.dispose()
    scope = "every tenant" if user.is_admin else f"tenant {user.tenant}"
    click.echo(f"user {user.username} ({user.role}, {scope}) created; sign in at {settings.public_url}/login")


def _settings_and_tenants(tenant: str | None):
    from bridge.tenancy import load_tenants
    from config.tenants import TenantFileError

    settings, store = _store(migrate=True)
    if tenant:
        try:
            known = load_tenants(settings.tenants_dir, settings.environ)
        except TenantFileError as exc:
            store.dispose()
            raise click.ClickException(f"invalid tenant files (run `salonbridge check`):\n{exc}") from exc
        if tenant not in known:
            store.dispose()
            raise click.ClickException(f"unknown tenant {tenant!r} (tenants: {', '.join(sorted(known)) or 'none'})")
    return settings, store


@users.command("list")
def list_users() -> None:
    """Every dashboard user with role, tenant and last sign-in."""
    _, store = _store()
    try:
        rows = repo.all_users(store)
    except SQLAlchemyError as exc:
        raise click.ClickException("cannot read the users; run `salonbridge db upgrade` first") from exc
    finally:
        store.dispose()
    if not rows:
        click.echo("no dashboard users yet: salonbridge users add NAME --role admin")
        return
    for user, last in rows:
        when = last.strftime("%Y-%m-%d %H:%M UTC") if last else "never signed in"
        click.echo(f"{user.username}  {user.role}  {user.tenant or '*'}  {user.language or '-'}  {when}")


@users.command("passwd")
@click.argument("username")
def passwd(username: str) -> None:
    """Set a new password for USERNAME (prompted for twice, or SALONBRIDGE_NEW_PASSWORD); their open
    dashboard sessions end."""
    _, store = _store()
    password = _new_password("New password")
    try:
        changed = repo.set_password(store, username, password)
    except repo.UserError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.dispose()
    if not changed:
        raise click.ClickException(f"no user named {username!r}")
    click.echo(f"password of {username} changed")


@users.command("remove")
@click.argument("username")
def remove(username: str) -> None:
    """Delete the dashboard user USERNAME."""
    _, store = _store()
    try:
        removed = repo.remove(store, username)
    finally:
        store.dispose()
    if not removed:
        click.echo(f"no user named {username!r}", err=True)
        sys.exit(1)
    click.echo(f"user {username} removed")
