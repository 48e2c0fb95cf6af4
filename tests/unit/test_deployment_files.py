"""The deployment files (Dockerfile, compose.yaml, Procfile, deploy/systemd) parse, and every process they
start is a real `salonbridge` subcommand with options it accepts: nothing here builds or runs a container."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from salonbridge.cli import main

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")


def resolve(args: list[str]) -> click.Command:
    """The click command ``salonbridge ARGS`` runs; its options parsed (an unknown one raises)."""
    command: click.Command = main
    path = ["salonbridge"]
    rest = [a.replace("$PORT", "8000") for a in args]
    while isinstance(command, click.Group):
        assert rest and rest[0] in command.commands, f"`{' '.join(path)}` has no subcommand {rest[:1]}"
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    command.make_context(" ".join(path), rest)  # click.UsageError on an option it does not take
    return command


def test_the_container_entry_point_is_the_salonbridge_console_script():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    entry = json.loads(re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", dockerfile, flags=re.M).group(1))
    cmd = json.loads(re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, flags=re.M).group(1))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert entry == ["salonbridge"] and scripts["salonbridge"] == "salonbridge.cli:main"
    assert resolve(cmd).name == "web"
    assert re.search(r"^USER\s+(?!root)\w+", dockerfile, flags=re.M), "the container does not run as root"
    for package in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
            "include"]:
        assert f"COPY {package.rstrip('*')} " in dockerfile, f"{package} is not copied into the image"


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_web_two_workers_clock_postgres_and_redis_from_one_image():
    services = compose()["services"]
    assert {"web", "worker", "clock", "postgres", "redis", "migrate"} <= set(services)
    ours = {name: s for name, s in services.items() if s.get("build")}
    assert set(ours) == {"web", "worker", "clock", "migrate"}
    assert {s["image"] for s in ours.values()} == {"salonbridge:latest"}
    assert services["worker"]["deploy"]["replicas"] == 2
    commands = {name: resolve(s["command"]).name for name, s in ours.items()}
    assert commands == {"web": "web", "worker": "worker", "clock": "clock", "migrate": "upgrade"}
    for name in ("web", "worker", "clock"):  # the schema is migrated before any of them starts
        assert ours[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert ours["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "0.0.0.0:8000" in services["web"]["command"]


def test_compose_sets_only_settings_salonbridge_reads():
    for name, service in compose()["services"].items():
        if service.get("build"):
            for variable in service["environment"]:
                assert f'"{variable}"' in SETTINGS_SOURCE, f"{name}: {variable} is not a setting"
            url = service["environment"]["DATABASE_URL"]
            assert url.startswith("postgresql://") and "@postgres:5432/" in url


def test_the_procfile_binds_every_address_and_migrates_in_its_release_step():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(lines) == {"release", "web", "worker", "clock"}
    for kind, command in lines.items():
        args = shlex.split(command)
        assert args[0] == "salonbridge", kind
        resolve(args[1:])
    assert shlex.split(lines["release"]) == ["salonbridge", "db", "upgrade"]
    assert "--bind 0.0.0.0:$PORT" in lines["web"]


UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_each_systemd_unit_starts_a_salonbridge_subcommand(path: Path):
    parsed = unit(path)
    assert {"Unit", "Service", "Install"} <= set(parsed.sections())
    args = shlex.split(parsed["Service"]["ExecStart"])
    assert Path(args[0]).name == "salonbridge"
    resolve(args[1:])
    assert parsed["Service"]["User"] == "salonbridge" and parsed["Service"]["EnvironmentFile"]
    if path.name != "salonbridge-migrate.service":
        assert "salonbridge-migrate.service" in parsed["Unit"]["Requires"]
        assert parsed["Service"]["Restart"] == "always"


def test_the_target_starts_web_clock_and_two_workers():
    target = unit(ROOT / "deploy" / "systemd" / "salonbridge.target")
    wanted = set(target["Unit"]["Wants"].split())
    assert {"salonbridge-web.service", "salonbridge-clock.service", "salonbridge-worker@1.service",
            "salonbridge-worker@2.service", "salonbridge-migrate.service"} <= wanted
    files = {p.name for p in UNITS}
    for name in wanted:  # each is a unit file here, or an instance of a template unit ("worker@2" → "worker@")
        assert re.sub(r"@[^.]+\.service$", "@.service", name) in files, name


def test_the_web_command_runs_gunicorn_with_the_shipped_config():
    from salonbridge.web_cmd import GUNICORN_CONF, gunicorn_argv

    argv = gunicorn_argv("0.0.0.0:9000", 3)
    assert GUNICORN_CONF.is_file()
    assert argv[1:5] == ["-m", "gunicorn", "-c", str(GUNICORN_CONF)]
    assert argv[-5:] == ["--bind", "0.0.0.0:9000", "--workers", "3", "webhooks.app:create_app()"]
