"""The ``cbsi-connect`` command line: thin wrappers over plain functions."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import click

from lti_tool.services import Services, build_services
from lti_tool.settings import Settings, SettingsError, load_settings
from lti_tool.storage import StorageError

logger = logging.getLogger(__name__)


class CliContext:
    """Settings and services, built on first use so ``--help`` never touches the database."""

    def __init__(self, config: str | None, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.config = config
        self.overrides: dict[str, dict[str, Any]] = overrides or {}
        self._settings: Settings | None = None
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, overrides=self.overrides)
        return self._settings

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings)
        return self._services


pass_ctx = click.make_pass_decorator(CliContext)


def fail(message: str, code: int = 2) -> None:
    """Print an actionable error and exit non-zero."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


class ErrorReportingGroup(click.Group):
    """Turn known errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            fail(str(exc))
        except StorageError as exc:
            fail(str(exc))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception:
            logger.exception("unexpected error in %s", ctx.invoked_subcommand)
            fail("unexpected error (details above); please report it with the command you ran", code=3)
        return None  # pragma: no cover


@click.group(cls=ErrorReportingGroup)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar="CBSI_CONNECT_CONFIG",
    help="TOML settings file (default: $CBSI_CONNECT_CONFIG; see config.example.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """CBSI-Connect courseware bridge."""
    if not isinstance(ctx.obj, CliContext):  # tests may hand in a prepared context
        ctx.obj = CliContext(config)


# -- db -------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: CliContext) -> None:
    """Create or migrate the schema to this release (in demo mode, the development LMS's tables too)."""
    obj.services.db.upgrade()
    if obj.settings.server.demo:
        from lti_tool import devlms

        devlms.migrate(obj.services)
    click.echo(f"database at {', '.join(sorted(obj.services.db.current_revisions()))}")


@db.command("current")
@pass_ctx
def db_current(obj: CliContext) -> None:
    """Show the schema revision and whether it is current."""
    current = obj.services.db.current_revisions()
    heads = obj.services.db.head_revisions()
    click.echo(f"current: {', '.join(sorted(current)) or '(empty)'}")
    click.echo(f"release: {', '.join(sorted(heads))}")
    if current != heads:
        fail("the database needs 'cbsi-connect db upgrade'", code=1)


# -- keys -----------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Tool signing keys (private PEMs live only in the keys folder)."""


@keys.command("generate")
@click.option("--if-missing", is_flag=True, help="Do nothing when an active key exists.")
@pass_ctx
def keys_generate(obj: CliContext, if_missing: bool) -> None:
    """Create the first key (or rotate when one is active)."""
    obj.services.db.check_migrated()
    kid = obj.services.keys.generate(if_missing=if_missing)
    click.echo(f"active key: {kid}" if kid else "an active key exists already")


@keys.command("rotate")
@pass_ctx
def keys_rotate(obj: CliContext) -> None:
    """Make a new key active; the previous one stays published for the overlap."""
    obj.services.db.check_migrated()
    kid = obj.services.keys.rotate()
    overlap = obj.settings.keys.rotation_overlap_seconds
    click.echo(f"active key: {kid} (previous key stays in the JWKS for {overlap} s)")


@keys.command("list")
@pass_ctx
def keys_list(obj: CliContext) -> None:
    """List keys: kid, status, created, retired, published in JWKS, private file present."""
    obj.services.db.check_migrated()
    rows = obj.services.keys.list()
    if not rows:
        click.echo("no keys: run 'cbsi-connect keys generate'")
        return
    click.echo(f"{'kid':44}  {'status':8}  {'created':20}  {'retired':20}  jwks  file")
    for k in rows:
        retired = k.retired_at.strftime("%Y-%m-%d %H:%M:%S") if k.retired_at else "-"
        click.echo(
            f"{k.kid:44}  {k.status:8}  {k.created_at:%Y-%m-%d %H:%M:%S}  {retired:20}  "
            f"{'yes' if k.published else 'no':4}  {'yes' if k.has_private_file else 'MISSING'}"
        )


# -- serve / demo ---------------------------------------------------------------------------


def run_gunicorn(app_factory: Callable[[], Any], bind: str | list[str], workers: int, threads: int) -> None:
    """Serve the WSGI app with gunicorn (threaded workers) on one address or several."""
    from gunicorn.app.base import BaseApplication

    from lti_tool.access_log import ACCESS_LOG_FORMAT, AccessLogger

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            # path without the query string: registration tokens and the like never reach the log
            # (server.log_format = "json": lti_tool.logging_setup.GunicornAccessJson rewrites it as JSON)
            self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
            self.cfg.set("logger_class", AccessLogger)  # the same line, only the atoms it reads
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 30)

        def load(self) -> Any:
            return app_factory()

    # Prometheus multiprocess mode: the workers' counters and histograms add up in one scrape
    # (lti_tool.observability); a fresh folder per start, so nothing survives from a previous run.
    own_dir = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else tempfile.mkdtemp(prefix="cbsi-metrics-")
    if own_dir is not None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    try:
        _App().run()
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


@cli.command()
@click.option("--bind", default=None, help="host:port (default: server.bind).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: server.workers).")
@pass_ctx
def serve(obj: CliContext, bind: str | None, workers: int | None) -> None:
    """Run the web service with gunicorn."""
    from lti_tool import create_app

    settings = obj.settings
    obj.services.db.check_migrated()
    n = workers or settings.server.workers
    if obj.services.db.is_sqlite and n > 1:
        click.echo("note: SQLite serves well with one process and threads; using 1 worker")
        n = 1
    binds = [bind or settings.server.bind]
    if settings.metrics.listen:
        binds.append(settings.metrics.listen)  # /metrics answers only there (lti_tool.web.metrics)
    run_gunicorn(lambda: create_app(settings), binds, n, settings.server.threads)


def prepare_demo(obj: CliContext) -> list[str]:
    """Migrate, create keys and seed the demo data; returns lines to show the newcomer."""
    services = obj.services
    services.db.upgrade()
    services.keys.generate(if_missing=True)
    lines = [f"database: {obj.settings.database_url}"]
    from lti_tool.devlms import seed as demo_seed

    lines += demo_seed.seed(services)
    return lines


@cli.command()
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--prepare-only", is_flag=True, help="Seed the demo and exit without serving.")
@click.pass_context
def demo(ctx: click.Context, port: int, host: str, prepare_only: bool) -> None:
    """Run a self-contained demo: SQLite, generated keys, sample course, development LMS."""
    parent: CliContext = ctx.obj
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
    base = f"http://{shown}:{port}"
    overrides: dict[str, dict[str, Any]] = {"server": {"demo": True, "base_url": base, "bind": f"{host}:{port}"}}
    obj = CliContext(parent.config, overrides)
    ctx.obj = obj
    for line in prepare_demo(obj):
        click.echo(line)
    if prepare_only:
        return
    click.secho(f"\nCBSI-Connect demo running at {base}/  (development LMS: {base}/dev/platform)\n", fg="green")
    from lti_tool import create_app

    settings = obj.settings
    worker = start_demo_sync_worker(parent.config, base, f"{host}:{port}")
    try:
        run_gunicorn(lambda: create_app(settings), settings.server.bind, 1, settings.server.threads)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def start_demo_sync_worker(config: str | None, base_url: str, bind: str) -> subprocess.Popen[bytes]:
    """The demo's grade sync worker (``cbsi-connect sync run``) beside the web server.

    Scores reach the development LMS's gradebook a moment after the learner's commit, as they
    would reach Moodle from a production worker.
    """
    env = dict(os.environ)
    env.update(
        CBSI_CONNECT_SERVER__DEMO="true",
        CBSI_CONNECT_SERVER__BASE_URL=f'"{base_url}"',
        CBSI_CONNECT_SERVER__BIND=f'"{bind}"',
    )
    if config:
        env["CBSI_CONNECT_CONFIG"] = config
    command = [sys.executable, "-m", "lti_tool", "sync", "run", "--poll", "2"]
    return subprocess.Popen(command, env=env)  # noqa: S603 - our own CLI, fixed arguments


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cbsi-connect")


def _register_optional_commands() -> None:
    """Feature command groups live beside their features; each registers itself here."""
    import importlib

    for module in (
        "lti_tool.cli_platforms",
        "lti_tool.cli_packages",
        "lti_tool.cli_sync",
        "lti_tool.cli_operators",
        "lti_tool.cli_backup",
        "lti_tool.cli_learners",
        "lti_tool.cli_audit",
        "lti_tool.cli_lrs",
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(cli)


_register_optional_commands()

__all__ = ["cli", "main"]
