"""``salonbridge web``: the web process (gunicorn serving ``webhooks.app:create_app()``).

The same command in every kind of install — Procfile, container, systemd unit — so each only says
where to listen. The process becomes gunicorn (exec), so signals from a supervisor (docker stop,
systemctl stop, a PaaS restart) reach gunicorn directly and it stops gracefully.
"""

from __future__ import annotations

import os
import sys

import click

from salonbridge.supervisor import GUNICORN_CONF

APP = "webhooks.app:create_app()"


def gunicorn_argv(bind: str | None, workers: int | None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
    if bind:
        argv += ["--bind", bind]
    if workers:
        argv += ["--workers", str(workers)]
    return [*argv, APP]


@click.command()
@click.option("--bind", metavar="HOST:PORT",
              help="Where to listen (default: SALONBRIDGE_BIND, else 127.0.0.1:$PORT, else 127.0.0.1:8000). "
                   "Behind a PaaS router or in a container: 0.0.0.0:$PORT.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="gunicorn worker processes (default: WEB_CONCURRENCY, else 2).")
def web(bind: str | None, workers: int | None) -> None:
    """Run the web server: booking, amoCRM and payment webhooks, client pages, the API, /healthz, /metrics.

    Run `salonbridge db upgrade` first (a release step or a one-off container does it); run as many web
    processes as you like behind a reverse proxy that terminates HTTPS (docs/deployment.md).
    """
    from salonbridge.cli import _checked_settings

    _checked_settings()  # the database, Redis, tenant files and their variables: one line per problem, exit 2
    argv = gunicorn_argv(bind, workers)
    sys.stdout.flush()
    os.execv(argv[0], argv)
