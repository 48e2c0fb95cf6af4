"""``salonbridge users``: people for the dashboard, with prompted passwords stored as scrypt hashes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bridge.store import users
from bridge.store.models import DashboardUser
from salonbridge.cli import main


@pytest.fixture
def cli(settings, services, monkeypatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SALONBRIDGE_TENANTS", str(settings.tenants_dir))
    monkeypatch.setenv("SALONBRIDGE_LOG_LEVEL", "WARNING")
    return CliRunner()


def test_a_manager_is_added_with_a_prompted_password_and_can_sign_in(cli, services):
    result = cli.invoke(main, ["users", "add", "Olena", "--tenant", "salon"],
                        input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    assert "user olena (manager, tenant salon) created" in result.output
    assert "a long passphrase" not in result.output
    with services.store.session() as s:
        stored = s.query(DashboardUser).one()
    assert stored.password_hash.startswith("scrypt:") and stored.tenant == "salon"
    now = datetime.now(UTC)
    assert users.authenticate(services.store, "OLENA", "a long passphrase", now).may_see("salon")
    assert users.authenticate(services.store, "olena", "a long passphrasE", now) is None
    listed = cli.invoke(main, ["users", "list"])
    assert "olena  manager  salon" in listed.output


@pytest.mark.parametrize(("args", "message"), [
    (["users", "add", "x1", "--role", "manager"], "a salon manager needs the tenant"),
    (["users", "add", "x1", "--role", "admin", "--tenant", "salon"], "an agency admin sees every tenant"),
    (["users", "add", "x1", "--tenant", "nosuch"], "unknown tenant 'nosuch'"),
])
def test_bad_users_are_refused_with_the_reason(cli, args, message):
    result = cli.invoke(main, args, input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 1 and message in result.output


def test_short_passwords_and_taken_names_are_refused(cli):
    short = cli.invoke(main, ["users", "add", "boss", "--role", "admin"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert cli.invoke(main, ["users", "add", "boss", "--role", "admin"], input="x" * 12 + "\n" + "x" * 12 + "\n"
                      ).exit_code == 0
    again = cli.invoke(main, ["users", "add", "boss", "--role", "admin"], input="y" * 12 + "\n" + "y" * 12 + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert cli.invoke(main, ["users", "remove", "boss"]).exit_code == 0
    assert cli.invoke(main, ["users", "remove", "boss"]).exit_code == 1


def test_scripts_give_the_password_in_the_environment_and_it_can_be_changed(cli, services, monkeypatch):
    monkeypatch.setenv("SALONBRIDGE_NEW_PASSWORD", "from the environment")
    assert cli.invoke(main, ["users", "add", "robot", "--role", "admin"]).exit_code == 0
    now = datetime.now(UTC)
    assert users.authenticate(services.store, "robot", "from the environment", now).is_admin
    monkeypatch.delenv("SALONBRIDGE_NEW_PASSWORD")
    changed = cli.invoke(main, ["users", "passwd", "robot"], input="a new passphrase\na new passphrase\n")
    assert changed.exit_code == 0, changed.output
    assert users.authenticate(services.store, "robot", "from the environment", now) is None
    assert users.authenticate(services.store, "robot", "a new passphrase", now) is not None
