"""``cbsi-connect sync``: run the grade worker, see outbox health, retry, resend, verify."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

import click

from lti_tool import catalogue, grades
from lti_tool.cli import CliContext, fail, pass_ctx
from lti_tool.logging_setup import configure_logging
from lti_tool.lrs.forwarder import ForwardStats, build_forwarder
from lti_tool.lti import platforms as platform_ops
from lti_tool.services import Services
from lti_tool.storage import learners
from lti_tool.storage.outbox import PlatformSummary, SqliteWorkerLock, SqlOutboxStore, WorkerLockError
from sync.model import OutboxStatus
from sync.ports import ResendFilter
from sync.reconcile import verify_delivered
from sync.worker import RunStats, install_stop_signals

logger = logging.getLogger(__name__)
S = OutboxStatus
#: Dead deliveries listed by ``sync status``.
DEAD_SHOWN = 20


def _prepared(obj: CliContext) -> Services:
    services = obj.services
    services.db.check_migrated()
    return services


def _lock(services: Services) -> SqliteWorkerLock | None:
    lock = SqliteWorkerLock.for_database(services.db)
    if lock is not None:
        try:
            lock.acquire()
        except WorkerLockError as exc:
            fail(str(exc), code=1)
    return lock


def _stats_line(stats: RunStats) -> str:
    return (
        f"claimed {stats.claimed}, delivered {stats.delivered}, superseded {stats.superseded}, "
        f"retry later {stats.retry}, dead {stats.dead}, released {stats.released}"
    )


def _forward_line(stats: ForwardStats) -> str:
    return (
        f"LRS forwarding: {stats.delivered} statements sent to academy LRSs, {stats.dead} refused "
        f"(dead letters), {stats.retried} retries scheduled, {stats.paused} paused"
    )


@click.group("sync")
def sync_group() -> None:
    """Grade delivery to the platforms' gradebooks (AGS)."""


@sync_group.command("run")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Simultaneous requests in total.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=None, help="Idle poll interval in seconds.")
@pass_ctx
def run_cmd(obj: CliContext, concurrency: int | None, poll: float | None) -> None:
    """Deliver grades, and forward statements to academy LRSs, until stopped (SIGTERM/SIGINT: in-flight
    requests finish, the rest is released)."""
    services = _prepared(obj)
    configure_logging(services.settings.server.log_level, services.settings.server.log_format)
    lock = _lock(services)
    try:
        worker = grades.build_worker(services, concurrency=concurrency)
        install_stop_signals(worker)
        # the LRS forwarder runs beside grade delivery in its own thread and stops with it
        forwarder = build_forwarder(services, stop_event=worker.stop_event)
        forward_stats: list[ForwardStats] = []
        forward_thread = threading.Thread(
            target=lambda: forward_stats.append(
                forwarder.run_forever(services.settings.forwarding.poll_interval_seconds)
            ),
            name="cbsi-lrs-forward",
            daemon=True,
        )
        forward_thread.start()
        click.echo(f"sync worker {worker.worker_id} running (stop with Ctrl-C or SIGTERM)", err=True)
        try:
            stats = worker.run_forever(poll or services.settings.sync.poll_interval_seconds)
        finally:
            worker.stop()
            forward_thread.join()
        click.echo(f"sync worker stopped: {_stats_line(stats)}", err=True)
        if forward_stats and forward_stats[0].requests:
            click.echo(_forward_line(forward_stats[0]), err=True)
    finally:
        if lock is not None:
            lock.release()


@sync_group.command("once")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Simultaneous requests in total.")
@pass_ctx
def once_cmd(obj: CliContext, concurrency: int | None) -> None:
    """Deliver everything due now (grades, and statements to academy LRSs), then exit (for cron)."""
    services = _prepared(obj)
    lock = _lock(services)
    try:
        worker = grades.build_worker(services, concurrency=concurrency)
        install_stop_signals(worker)
        stats = worker.run_once()
        forwarder = build_forwarder(services, stop_event=worker.stop_event)
        forwarded = ForwardStats()
        while not worker.stop_event.is_set():
            one = forwarder.run_once()
            forwarded.merge(one)
            if not one.batches:
                break
    finally:
        if lock is not None:
            lock.release()
    click.echo(_stats_line(stats))
    if forwarded.requests:
        click.echo(_forward_line(forwarded))


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def _platform_names(services: Services) -> dict[str, str]:
    return {str(p.id): (p.name or p.issuer) for p in platform_ops.list_platforms(services.db)}


def _status_json(summary: PlatformSummary, name: str, now: datetime) -> dict[str, object]:
    oldest = summary.oldest_pending_at
    return {
        "platform": summary.platform_key,
        "name": name,
        "pending": summary.count(S.PENDING),
        "in_flight": summary.count(S.IN_FLIGHT),
        "delivered": summary.count(S.DELIVERED),
        "superseded": summary.count(S.SUPERSEDED),
        "dead": summary.count(S.DEAD),
        "delivered_last_hour": summary.delivered_last_hour,
        "oldest_pending_at": oldest.isoformat() if oldest else None,
        "oldest_pending_age_seconds": None if oldest is None else max(0.0, (now - oldest).total_seconds()),
    }


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@pass_ctx
def status_cmd(obj: CliContext, as_json: bool) -> None:
    """Per platform: pending, in flight, delivered in the last hour, dead, age of the oldest pending."""
    services = _prepared(obj)
    now = datetime.now(UTC)
    store = SqlOutboxStore(services.db)
    summaries = store.summary(now=now)
    names = _platform_names(services)
    rows = [_status_json(sm, names.get(sm.platform_key, "(unregistered)"), now) for sm in summaries]
    dead_items = store.list_items(statuses=[S.DEAD]) if any(sm.count(S.DEAD) for sm in summaries) else []
    for row in rows:
        row["dead_items"] = [
            {
                "id": it.id,
                "user_id": it.update.user_id,
                "line_item_key": it.update.line_item_key,
                "status_code": it.last_status_code,
                "error": it.last_error,
            }
            for it in dead_items
            if it.update.platform_key == row["platform"]
        ][:DEAD_SHOWN]
    if as_json:
        click.echo(json.dumps({"at": now.isoformat(), "platforms": rows}, indent=2))
        return
    if not rows:
        click.echo("grade outbox is empty: no outcome has been queued for delivery yet")
        return
    header = f"{'platform':<8} {'name':<28} {'pending':>8} {'in flight':>9} {'sent 1h':>8} {'dead':>6} {'oldest':>8}"
    click.echo(header)
    click.echo("-" * len(header))
    for sm, row in zip(summaries, rows, strict=True):
        name = str(row["name"])
        click.echo(
            f"{sm.platform_key:<8} {name[:28]:<28} {row['pending']:>8} {row['in_flight']:>9} "
            f"{row['delivered_last_hour']:>8} {row['dead']:>6} {_age(sm.oldest_pending_at, now):>8}"
        )
    if dead_items:
        click.echo(f"\n{len(dead_items)} dead deliveries (the platform refused them):")
        for it in dead_items[:DEAD_SHOWN]:
            click.echo(
                f"  platform {it.update.platform_key}, user {it.update.user_id}, line item {it.update.line_item_key}: "
                f"{it.last_status_code or '-'} {it.last_error or ''}"
            )
        if len(dead_items) > DEAD_SHOWN:
            click.echo(f"  ... and {len(dead_items) - DEAD_SHOWN} more (--json lists {DEAD_SHOWN} per platform)")
        click.echo("fix the cause (enrolment, grade item, registration), then run 'cbsi-connect sync retry --dead'")


@sync_group.command("retry")
@click.option("--dead", "dead", is_flag=True, required=True, help="Re-queue dead deliveries (required).")
@click.option("--platform", "platform", default=None, help="Only this platform id.")
@pass_ctx
def retry_cmd(obj: CliContext, dead: bool, platform: str | None) -> None:
    """Re-queue dead deliveries after fixing their cause (enrolment, grade item, registration)."""
    services = _prepared(obj)
    if not dead:  # pragma: no cover - click enforces it
        fail("say what to retry: --dead")
    count = SqlOutboxStore(services.db).retry_dead(now=datetime.now(UTC), platform_key=platform)
    click.echo(f"{count} dead deliveries re-queued" + (f" for platform {platform}" if platform else ""))


@sync_group.command("resend")
@click.option("--course", "course", default=None, help="Course id or key: every learner's grade on it.")
@click.option("--learner", "learner", default=None, help="LTI user id (sub): all of their grades.")
@click.option("--platform", "platform", default=None, help="Only this platform id.")
@pass_ctx
def resend_cmd(obj: CliContext, course: str | None, learner: str | None, platform: str | None) -> None:
    """Send settled grades again (after a gradebook was reset or a teacher override)."""
    if (course is None) == (learner is None):
        fail("give exactly one of --course ID or --learner SUB")
    services = _prepared(obj)
    store = SqlOutboxStore(services.db)
    now = datetime.now(UTC)
    count = 0
    if learner is not None:
        count = store.resend(ResendFilter(user_id=learner, platform_key=platform), now=now)
    else:
        with services.db.session() as s:
            ident = str(course)
            found = catalogue.find_course(s, ident)
            if found is None:
                fail(f"no course {ident!r} in the catalogue: see 'cbsi-connect packages list'", code=1)
                return
            regs = learners.course_registrations(s, found.id)
            keys = {
                (str(r.platform_id), target.key, r.learner_sub)
                for r in regs
                if (target := grades.line_item_target(r)) is not None
            }
        for pkey, li_key, user in sorted(keys):
            if platform is None or platform == pkey:
                count += store.resend(ResendFilter(platform_key=pkey, line_item_key=li_key, user_id=user), now=now)
    click.echo(f"{count} grades re-queued; a running 'sync run' (or the next 'sync once') sends them")


@sync_group.command("verify")
@click.option("--platform", "platform", required=True, help="Platform id.")
@click.option("--fix", is_flag=True, help="Re-queue every grade that is missing or different in the gradebook.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_ctx
def verify_cmd(obj: CliContext, platform: str, fix: bool, as_json: bool) -> None:
    """Compare delivered grades with the platform's gradebook (AGS results); exit 1 on mismatches."""
    services = _prepared(obj)
    store = SqlOutboxStore(services.db)
    findings = verify_delivered(store, services.platform_directory, services.ags, platform_key=platform)
    requeued = 0
    if fix:
        now = datetime.now(UTC)
        for finding in findings:
            item = store.get(finding.outbox_id) if finding.outbox_id is not None else None
            if item is not None:
                upd = item.update
                requeued += store.resend(
                    ResendFilter(platform_key=upd.platform_key, line_item_key=upd.line_item_key, user_id=upd.user_id),
                    now=now,
                )
    if as_json:
        rows = [
            {
                "kind": str(f.kind),
                "outbox_id": f.outbox_id,
                "line_item": f.line_item_url,
                "user_id": f.user_id,
                "expected": f.expected_ratio,
                "actual": f.actual_ratio,
                "message": f.message,
            }
            for f in findings
        ]
        click.echo(json.dumps({"platform": platform, "mismatches": rows, "requeued": requeued}, indent=2))
    elif not findings:
        click.echo(f"platform {platform}: every delivered grade is in the gradebook")
    else:
        for f in findings:
            detail = f.message or f"expected {f.expected_ratio}, gradebook has {f.actual_ratio}"
            click.echo(f"{f.kind:<11} user {f.user_id or '-'} on {f.line_item_url}: {detail}")
        if fix:
            click.echo(f"{requeued} grades re-queued")
    if findings and not fix:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    """Add ``sync`` to the ``cbsi-connect`` command line."""
    cli.add_command(sync_group)
