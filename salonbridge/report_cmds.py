"""``salonbridge report <name>``: one sub-command per report, each in its own module."""

from __future__ import annotations

import click


@click.group()
def report() -> None:
    """Reports read from salonbridge's own store (no amoCRM or provider calls)."""


def _register() -> None:
    from salonbridge.client_cmds import register_reports
    from salonbridge.prepayment_report import prepayments
    from salonbridge.reconnect_report import reconnect_report

    report.add_command(prepayments)
    report.add_command(reconnect_report)
    register_reports(report)


_register()
