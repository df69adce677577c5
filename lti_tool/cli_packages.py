"""``cbsi-connect packages``: import, list and show catalogue courses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lti_tool import catalogue
from lti_tool.cli import CliContext, pass_ctx
from scorm.packaging import PackageError


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _where(entry: dict[str, object]) -> None:
    where = ", ".join(f"{k} {entry[k]}" for k in ("file", "element", "rule") if entry.get(k))
    if where:
        click.echo(f"{'':40}  {'':9}    ({where})")


@click.group()
def packages() -> None:
    """Course packages in the catalogue (SCORM 1.2, SCORM 2004, xAPI/TinCan, cmi5)."""


@packages.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "course", default=None, help="Add as a new version of this course (id or key).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.option("--by", "imported_by", default="cli", show_default=True, help="Who imports (shown in the catalogue).")
@pass_ctx
def import_cmd(obj: CliContext, paths: tuple[Path, ...], course: str | None, as_json: bool, imported_by: str) -> None:
    """Import package files; exits 1 with per-file reasons when any is refused."""
    services = obj.services
    services.db.check_migrated()
    results: list[dict[str, object]] = []
    failed = 0
    show_bar = not as_json and sys.stderr.isatty()
    with click.progressbar(
        paths, label="importing", file=sys.stderr, item_show_func=lambda p: p.name if p else "", hidden=not show_bar
    ) as bar:
        for path in bar:
            try:
                outcome = catalogue.import_package(services, path, course_key=course, imported_by=imported_by)
            except PackageError as exc:
                failed += 1
                results.append({"file": str(path), "status": "refused", "error": exc.as_dict()})
            except catalogue.CatalogueError as exc:
                failed += 1
                error = {"code": exc.code, "message": str(exc)}
                results.append({"file": str(path), "status": "refused", "error": error})
            else:
                results.append({"file": str(path), **outcome.__dict__})
    if as_json:
        click.echo(json.dumps({"results": results, "failed": failed}, indent=2, default=str))
    else:
        click.echo(f"{'file':40}  {'result':9}  {'course':32}  {'ver':>3}  {'standard':10}  {'items':>5}  size")
        for r in results:
            name = Path(str(r["file"])).name[:40]
            if r["status"] == "refused":
                err = r["error"]
                assert isinstance(err, dict)
                problems = err.get("problems") or [err]
                total = len(problems) + int(str(err.get("problems_omitted") or 0))
                count = f" ({total} problems)" if total > 1 else ""
                click.echo(f"{name:40}  {'REFUSED':9}{count}")
                for problem in problems:
                    click.echo(f"{'':40}  {'':9}  {problem['code']}: {problem['message']}")
                    _where(problem)
                if err.get("problems_omitted"):
                    click.echo(f"{'':40}  {'':9}  … and {err['problems_omitted']} more problems not listed")
                for warning in err.get("warnings") or ():
                    click.echo(f"{'':40}  {'WARNING':9}  {warning['code']}: {warning['message']}")
                    _where(warning)
            else:
                std = f"{r['standard']}{' ' + str(r['edition']) if r['edition'] else ''}"
                click.echo(
                    f"{name:40}  {r['status']:9}  {str(r['course_key'])[:32]:32}  {r['version']:>3}  "
                    f"{std:10}  {r['launchable_count']:>5}  {_size(int(str(r['size_bytes'])))}"
                )
                for warning in r.get("warnings") or ():
                    assert isinstance(warning, dict)
                    click.echo(f"{'':40}  {'WARNING':9}  {warning['code']}: {warning['message']}")
                    _where(warning)
        warned = sum(1 for r in results if r.get("warnings"))
        click.echo(f"{len(results) - failed} imported or unchanged ({warned} with warnings), {failed} refused")
    if failed:
        sys.exit(1)


@packages.command("list")
@click.option("--search", "query", default="", help="Search titles, descriptions and keys.")
@click.option("--standard", type=click.Choice(["scorm12", "scorm2004", "xapi", "cmi5"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_cmd(obj: CliContext, query: str, standard: str | None, as_json: bool) -> None:
    """List catalogue courses with their newest version."""
    obj.services.db.check_migrated()
    rows = catalogue.search(obj.services, query, standard=standard)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2, default=str))
        return
    if not rows:
        if query.strip() or standard:
            what = " and ".join(
                part
                for part in (f"'{query.strip()}'" if query.strip() else "", f"standard {standard}" if standard else "")
                if part
            )
            click.echo(f"no course matches {what}: try another search, or 'cbsi-connect packages list' for all")
            return
        click.echo("the catalogue is empty: import packages with 'cbsi-connect packages import FILE...'")
        return
    click.echo(
        f"{'id':>4}  {'title (as the LMS sees it)':44}  {'standard':14}  {'lang':5}  {'ver':>3}  {'items':>5}  size"
    )
    for r in rows:
        std = f"{r.standard}{' ' + r.edition if r.edition else ''}"
        click.echo(
            f"{r.course_id:>4}  {r.link_title[:44]:44}  {std:14}  {r.language[:5]:5}  {r.latest_version:>3}  "
            f"{r.launchable_count:>5}  {_size(r.size_bytes)}"
        )


@packages.command("show")
@click.argument("course")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_cmd(obj: CliContext, course: str, as_json: bool) -> None:
    """Show one course (id or key) with all its versions and launchable items."""
    obj.services.db.check_migrated()
    try:
        summary, versions = catalogue.get_course(obj.services, course)
    except catalogue.CourseNotFound as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"course": summary.__dict__, "versions": versions}, indent=2, default=str))
        return
    click.echo(f"{summary.link_title}  (id {summary.course_id}, key {summary.key})")
    if summary.display_title:
        click.echo(f"display title set by an operator; package title: {summary.title}")
    elif summary.link_title != summary.title:
        click.echo(f"package title: {summary.title} (another course has the same title; set one with set-title)")
    click.echo(f"standard {summary.standard}  language {summary.language or '-'}  versions {summary.versions}")
    if summary.description:
        click.echo(summary.description)
    for v in versions:
        click.echo(
            f"\nversion {v['version']}: {v['source_name']}  {_size(int(v['size_bytes']))}  "
            f"sha256 {str(v['sha256'])[:12]}…  imported {v['imported_at'][:19]} by {v['imported_by']}"
        )
        for item in v["launchables"]:
            hidden = "" if item.get("visible", True) else "  (hidden)"
            click.echo(f"  - [{item['kind']}] {item['title']} → {item['launch_url']}{hidden}")
        for warning in v.get("warnings") or ():
            click.echo(f"  WARNING {warning['code']}: {warning['message']}")


@packages.command("set-title")
@click.argument("course")
@click.argument("title", required=False)
@click.option("--clear", is_flag=True, help="Remove the display title: the package title is used again.")
@pass_ctx
def set_title_cmd(obj: CliContext, course: str, title: str | None, clear: bool) -> None:
    """Set the title the LMS sees for COURSE (id or key): picker, new activities, grade columns.

    The package title stays as the package gives it. Activities already added to an LMS keep
    their name; rename those in the LMS.
    """
    obj.services.db.check_migrated()
    if clear == (title is not None):
        click.secho("error: give a TITLE, or --clear to use the package title again", fg="red", err=True)
        sys.exit(2)
    try:
        summary = catalogue.set_display_title(obj.services, course, None if clear else title)
    except catalogue.CourseNotFound as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except catalogue.InvalidTitle as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    if summary.display_title:
        click.echo(f"course {summary.course_id} is now shown as: {summary.link_title}")
    else:
        click.echo(f"course {summary.course_id} display title cleared; shown as: {summary.link_title}")


@packages.command("preview")
@click.argument("course")
@click.option("--au", "au", default=None, help="cmi5: the AU to open (default: the course's first AU).")
@click.option("--learner", "learner", default=None, help="Name of the preview learner; the same name resumes.")
@click.option("--version", "version", type=int, default=None, help="Course version number (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def preview_cmd(
    obj: CliContext, course: str, au: str | None, learner: str | None, version: int | None, as_json: bool
) -> None:
    """Print a one-time URL that opens COURSE (id or key) for checking, without an LMS.

    The session is recorded under the preview tenant (never an academy, never in reports) and
    nothing is sent to a gradebook. The URL opens once and expires after
    player.preview_ttl_seconds. Without --learner every preview is a new learner; repeating a
    --learner name resumes that learner's attempt.
    """
    from lti_tool import audit, preview

    obj.services.db.check_migrated()
    try:
        link = preview.issue(obj.services, course, version=version, au=au, learner=learner)
    except preview.PreviewError as exc:
        click.secho(f"error: {exc.code}: {exc.message}", fg="red", err=True)
        sys.exit(2)
    with obj.services.db.session() as s:
        audit.record(
            s, actor=audit.cli_actor(), action="packages.preview", source="cli",
            params={"course": link.course_id, "version": link.version, "au": link.au, "learner": link.learner},
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps({**link.__dict__, "token": None}, indent=2, default=str))
        return
    click.echo(link.url)
    where = f", AU {link.au}" if link.au else ""
    click.echo(
        f"{link.title} (course {link.course_id}, version {link.version}, {link.standard}{where}) as learner "
        f"{link.learner!r}; opens once, until {link.expires_at:%Y-%m-%d %H:%M} UTC",
        err=True,
    )


def register(cli: click.Group) -> None:
    """Add the ``packages`` group to the CLI."""
    cli.add_command(packages)
