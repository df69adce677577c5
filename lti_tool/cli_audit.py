"""``cbsi-connect audit``: read the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from lti_tool import audit
from lti_tool.cli import CliContext, fail, pass_ctx


def parse_since(value: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time (UTC when no offset is given).

    Raises:
        ValueError: not a date or time.
    """
    parsed = datetime.fromisoformat(value.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.group("audit")
def audit_group() -> None:
    """The audit log: learner exports and erasures, who ran them, from where."""


@audit_group.command("list")
@click.option("--since", default=None, help="Only entries from this UTC date or time (2026-12-01, 2026-12-01T08:00).")
@click.option("--action", default=None, help="Only this action (learners.erase), or a prefix ending in '.'.")
@click.option("--platform", "platform_id", type=int, default=None, help="Only this platform's entries.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (for scripts and archives).")
@pass_ctx
def list_cmd(
    obj: CliContext, since: str | None, action: str | None, platform_id: int | None, limit: int, as_json: bool
) -> None:
    """List entries, newest first."""
    obj.services.db.check_migrated()
    try:
        since_at = parse_since(since) if since else None
    except ValueError:
        fail(f"--since {since!r} is not a date or time (use 2026-12-01 or 2026-12-01T08:00)")
        return
    shown = 0
    for entry in audit.iter_entries(obj.services.db, since=since_at, action=action, platform_id=platform_id):
        if shown >= limit:
            break
        shown += 1
        if as_json:
            click.echo(json.dumps(entry.as_dict(), ensure_ascii=False, separators=(",", ":")))
            continue
        params = json.dumps(dict(entry.params), ensure_ascii=False, separators=(",", ":"))
        platform = "-" if entry.platform_id is None else str(entry.platform_id)
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.actor:20}  {entry.source:15}  {entry.action:16}  "
            f"{entry.outcome:8}  platform {platform:4}  {params}"
        )
    if not shown and not as_json:
        click.echo("no audit entries match")


def register(cli: click.Group) -> None:
    """Attach the group to the main CLI."""
    cli.add_command(audit_group)
