"""``cbsi-connect operators``: accounts for the admin pages."""

from __future__ import annotations

import sys

import click

from lti_tool import operators
from lti_tool.cli import CliContext, pass_ctx


@click.group("operators")
def operators_group() -> None:
    """Operator accounts for the admin pages (/admin)."""


@operators_group.command("add")
@click.argument("username")
@click.password_option(help="At least 10 characters (prompted when omitted).")
@pass_ctx
def add(obj: CliContext, username: str, password: str) -> None:
    """Create an operator, or set a new password for an existing one."""
    obj.services.db.check_migrated()
    try:
        operators.set_operator(obj.services, username, password)
    except operators.OperatorError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"operator {username} can now log in at {obj.settings.server.base_url}/admin")


@operators_group.command("list")
@pass_ctx
def list_cmd(obj: CliContext) -> None:
    """List operator usernames."""
    obj.services.db.check_migrated()
    for name in operators.list_operators(obj.services):
        click.echo(name)


@operators_group.command("remove")
@click.argument("username")
@pass_ctx
def remove(obj: CliContext, username: str) -> None:
    """Delete an operator account."""
    obj.services.db.check_migrated()
    if not operators.remove_operator(obj.services, username):
        click.secho(f"error: no operator {username}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"removed {username}")


@operators_group.command("unlock")
@click.argument("username")
@pass_ctx
def unlock(obj: CliContext, username: str) -> None:
    """Let an account locked out by failed logins log in again now (its address count stays)."""
    obj.services.db.check_migrated()
    operators.unlock(obj.services, username)
    click.echo(f"{username} may log in again")


def register(cli: click.Group) -> None:
    """Add the ``operators`` group to the CLI."""
    cli.add_command(operators_group)
