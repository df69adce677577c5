"""``cbsi-connect backup``: back up an instance, restore it into a fresh one."""

from __future__ import annotations

from pathlib import Path

import click

from lti_tool import backup
from lti_tool.cli import CliContext, fail, pass_ctx


@click.group("backup")
def backup_group() -> None:
    """Backups: the database, the content folder and the keys folder in one file."""


@backup_group.command("create")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def create(obj: CliContext, target: Path) -> None:
    """Write a backup to TARGET (a new file, mode 0600: it holds the private keys)."""
    obj.services.db.check_migrated()
    try:
        report = backup.create_backup(obj.services, target)
    except backup.BackupError as exc:
        fail(str(exc))
        return
    click.echo(
        f"backup {report.path}: {report.dialect} database at {', '.join(report.revisions)}, "
        f"{report.files} files, {report.bytes} bytes. It holds the private keys: store it like them."
    )


@backup_group.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def restore(obj: CliContext, source: Path) -> None:
    """Restore SOURCE into this instance (its database, content and keys folders must be empty)."""
    try:
        report = backup.restore_backup(obj.services, source)
    except backup.BackupError as exc:
        fail(str(exc))
        return
    click.echo(f"restored {report.files} files; database at {', '.join(report.revisions)}")
    if set(report.revisions) != obj.services.db.head_revisions():
        click.echo("the backup is of another release's schema: run 'cbsi-connect db upgrade' before serving")


def register(cli: click.Group) -> None:
    """Attach the group to the main CLI."""
    cli.add_command(backup_group)
