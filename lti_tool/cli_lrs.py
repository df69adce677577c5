"""``cbsi-connect lrs``: credentials of the built-in LRS."""

from __future__ import annotations

import sys

import click

from lti_tool.cli import CliContext, pass_ctx
from lti_tool.lrs import credentials


@click.group("lrs")
def lrs_group() -> None:
    """The built-in LRS (/xapi/)."""


@lrs_group.group("credentials")
def credentials_group() -> None:
    """Operator credentials (HTTP Basic) for reporting tools."""


@credentials_group.command("create")
@click.option("--name", required=True, help="Who uses it (shown as the statements' authority).")
@click.option("--tenant", default="", help="Tenant whose statements it may read and write (default: the operator's).")
@pass_ctx
def create(obj: CliContext, name: str, tenant: str) -> None:
    """Create an operator credential; the secret is printed once and never stored."""
    obj.services.db.check_migrated()
    try:
        issued = credentials.create_operator_credential(obj.services.db, name, tenant=tenant)
    except credentials.CredentialError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"endpoint: {obj.settings.server.base_url.rstrip('/')}/xapi")
    click.echo(f"key:      {issued.key}")
    click.echo(f"secret:   {issued.secret}")
    click.echo("the secret is shown only now: store it in the reporting tool")


@credentials_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also per-launch learner credentials.")
@pass_ctx
def list_cmd(obj: CliContext, show_all: bool) -> None:
    """List credentials (never their secrets)."""
    obj.services.db.check_migrated()
    for row in credentials.list_credentials(obj.services.db, include_launch=show_all):
        state = "revoked" if row.revoked_at else "active"
        if row.expires_at:
            state += f", expires {row.expires_at:%Y-%m-%d %H:%M}Z"
        click.echo(f"{row.key}  {row.scope:8}  {state:30}  {row.name}")


@credentials_group.command("revoke")
@click.argument("key")
@pass_ctx
def revoke(obj: CliContext, key: str) -> None:
    """Revoke a credential by its key."""
    obj.services.db.check_migrated()
    try:
        credentials.revoke_credential(obj.services.db, key)
    except credentials.CredentialError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"revoked {key}")


def register(cli: click.Group) -> None:
    """Add the ``lrs`` group to the CLI."""
    cli.add_command(lrs_group)
