"""``cbsi-connect learners``: export an academy's learner records, erase one learner (both audited)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lti_tool import audit, privacy
from lti_tool.cli import CliContext, fail, pass_ctx

#: Exit code of a refused request (unknown platform or learner, invalid id, existing file).
EXIT_REFUSED = 2


@click.group("learners")
def learners_group() -> None:
    """Learner data lifecycle: export (all learners of an academy, or one) and erasure."""


@learners_group.command("export")
@click.option("--platform", "platform_id", type=int, required=True, help="Platform id (see 'platforms list').")
@click.option("--learner", "sub", default=None, help="Only this learner (the LMS's 'sub'): a subject access request.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="New file to write (mode 0600); default: standard output.",
)
@pass_ctx
def export(obj: CliContext, platform_id: int, sub: str | None, out: Path | None) -> None:
    """Write one JSON line per learner registration: attempts, SCO states, grade delivery."""
    obj.services.db.check_migrated()
    try:
        report = privacy.export_learners(
            obj.services.db,
            platform_id=platform_id,
            sub=sub,
            out_path=out,
            stdout=sys.stdout,
            actor=audit.cli_actor(),
            source="cli",
        )
    except (privacy.PrivacyError, FileExistsError) as exc:
        fail(str(exc), code=EXIT_REFUSED)
        return
    except OSError as exc:  # audited as failed; no half file is left under the asked name
        fail(f"cannot write {out}: {exc.strerror or exc}")
        return
    if out is not None:
        click.echo(f"exported {report.registrations} registration(s) of platform {platform_id} to {out} (mode 0600)")
    else:
        click.echo(f"exported {report.registrations} registration(s) of platform {platform_id}", err=True)


@learners_group.command("erase")
@click.option("--platform", "platform_id", type=int, required=True, help="Platform id (see 'platforms list').")
@click.option("--learner", "sub", required=True, help="The learner's LMS id ('sub').")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def erase(obj: CliContext, platform_id: int, sub: str, yes: bool) -> None:
    """Remove everything held about one learner on one platform, in one transaction."""
    db = obj.services.db
    db.check_migrated()
    actor = audit.cli_actor()
    try:
        if not yes:
            plan = privacy.plan_erasure(db, platform_id=platform_id, sub=sub)
            click.echo(f"learner {sub!r} on platform {platform_id}: {plan.total} row(s) will be removed")
            for table, n in plan.counts.items():
                if n:
                    click.echo(f"  {table}: {n}")
            if not click.confirm("erase them? This cannot be undone", default=False):
                click.echo("nothing erased")
                sys.exit(1)
        report = privacy.erase_learner(db, platform_id=platform_id, sub=sub, actor=actor, source="cli")
    except privacy.PrivacyError as exc:
        fail(str(exc), code=EXIT_REFUSED)
        return
    click.echo(f"erased learner {sub!r} on platform {platform_id}: {report.total} row(s)")
    for table, n in report.counts.items():
        click.echo(f"  {table}: {n}")
    for note in report.notes:
        click.echo(f"note: {note}")


def register(cli: click.Group) -> None:
    """Attach the group to the main CLI."""
    cli.add_command(learners_group)
