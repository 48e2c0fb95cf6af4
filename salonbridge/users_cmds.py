"""``salonbridge users``: the people who sign in to the dashboard."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from bridge.store import users as repo


def _store():
    from bridge.store.db import Store
    from salonbridge.cli import _settings

    settings = _settings()
    store = Store(settings.database_url)
    store.migrate()
    return settings, store


@click.group()
def users() -> None:
    """Dashboard users: agency admins see every salon, salon managers only their own."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(repo.ROLES), default=repo.MANAGER, show_default=True,
              help="admin: the agency, every tenant; manager: one salon (give --tenant).")
@click.option("--tenant", help="The salon a manager sees (its slug).")
@click.option("--language", type=click.Choice(repo.LANGUAGES), help="Dashboard language (default: the salon's).")
@click.password_option("--password", prompt="Password", envvar="SALONBRIDGE_NEW_PASSWORD",
                       help=f"Asked for when not given (at least {repo.MIN_PASSWORD} characters); "
                            "or set SALONBRIDGE_NEW_PASSWORD.")
def add(username: str, role: str, tenant: str | None, language: str | None, password: str) -> None:
    """Create the dashboard user USERNAME (the password is prompted for twice and stored hashed)."""
    settings, store = _settings_and_tenants(tenant)
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

    settings, store = _store()
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
@click.password_option("--password", prompt="New password", envvar="SALONBRIDGE_NEW_PASSWORD")
def passwd(username: str, password: str) -> None:
    """Set a new password for USERNAME."""
    _, store = _store()
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
