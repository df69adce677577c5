"""``cbsi-connect platforms ...``: register and manage LMS platforms (tenants)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

import click

from lti_tool import audit
from lti_tool.cli import CliContext, fail, pass_ctx
from lti_tool.lrs import forwarding
from lti_tool.lti import platforms as ops
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.lti.registration_config import IssuerNotSecure, check_secure_url, insecure_origins
from lti_tool.outbound import policy_from_settings

logger = logging.getLogger(__name__)


def _reported(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (PlatformAdminError, forwarding.ForwardingError) as exc:
            fail(f"{exc} [{exc.code}]")
        return None  # pragma: no cover

    return wrapper


def _show(info: PlatformInfo, forward: forwarding.ForwardingStatus | None = None) -> None:
    click.echo(f"id:             {info.id}")
    click.echo(f"name:           {info.name}")
    click.echo(f"status:         {info.status}")
    click.echo(f"issuer:         {info.issuer}")
    click.echo(f"client id:      {info.client_id}")
    click.echo(f"deployments:    {', '.join(info.deployments) or '(none: launches will be refused)'}")
    click.echo(f"auth login url: {info.auth_login_url}")
    click.echo(f"auth token url: {info.auth_token_url}")
    click.echo(f"key set url:    {info.key_set_url}")
    click.echo(f"source:         {info.source}")
    click.echo(f"created:        {info.created_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"last launch:    {_last_launch(info)}")
    if forward is not None:
        _show_forwarding(forward)


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _show_forwarding(fw: forwarding.ForwardingStatus) -> None:
    """The ``LRS forwarding`` lines of ``platforms show`` and ``platforms forward`` (never the secret)."""
    if not fw.endpoint:
        click.echo("LRS forwarding: off (turn it on with 'cbsi-connect platforms forward ID --endpoint URL ...')")
        return
    click.echo(f"LRS forwarding: {fw.state}")
    click.echo(f"  endpoint:     {fw.endpoint} (xAPI {fw.xapi_version})")
    click.echo(f"  key:          {fw.auth_key} (secret {'set' if fw.secret_set else 'missing'})")
    click.echo(f"  backlog:      {fw.backlog_text} statements")
    click.echo(f"  delivered:    {fw.delivered} statements, last success {_when(fw.last_success_at)}")
    click.echo(f"  dead letters: {fw.dead}" + (f" ({fw.retrying} queued again)" if fw.retrying else ""))
    if fw.last_error:
        click.echo(f"  last error:   {fw.last_error}")
    if fw.state == forwarding.PAUSED:
        click.echo(
            "  paused: the academy's LRS refused the endpoint or the credentials; fix them with "
            f"'cbsi-connect platforms forward {fw.platform_id} --endpoint ... --key ... --secret-stdin', "
            f"or resume with 'cbsi-connect platforms forward {fw.platform_id} --resume'"
        )


def _last_launch(info: PlatformInfo) -> str:
    """When the registration last launched ("never": its LMS tool may be missing or not activated)."""
    if info.last_launch_at is None:
        return "never"
    return f"{info.last_launch_at:%Y-%m-%d %H:%M} UTC"


@click.group()
def platforms() -> None:
    """LMS platforms (tenants): issuer, client id, deployments, status."""


@platforms.command("add")
@click.option("--issuer", required=True, help="The platform's issuer (iss), exactly as in its tokens.")
@click.option("--client-id", required=True, help="The client id the platform assigned to this tool.")
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Deployment id (repeatable).")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization endpoint.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 token endpoint.")
@click.option("--key-set-url", required=True, help="The platform's public JWKS URL.")
@click.option("--name", default="", help="A human name (defaults to the issuer host).")
@click.option("--approve", is_flag=True, help="Make it active now instead of pending.")
@pass_ctx
@_reported
def platforms_add(
    obj: CliContext,
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    name: str,
    approve: bool,
) -> None:
    """Register a platform."""
    obj.services.db.check_migrated()
    _check_plain_http(obj, issuer, auth_login_url, auth_token_url, key_set_url)
    info = ops.add_platform(
        obj.services.db,
        issuer=issuer,
        client_id=client_id,
        deployment_ids=deployment_ids,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url,
        name=name,
        approve=approve,
    )
    click.echo(f"platform {info.id} registered ({info.status})")
    if not info.is_active:
        click.echo(f"approve it with: cbsi-connect platforms approve {info.id}")


def _check_plain_http(obj: CliContext, issuer: str, *urls: str) -> None:
    """The https rule of Dynamic Registration, for platforms added by hand.

    Plain http is accepted only for loopback hosts in demo mode and for the issuers listed in
    ``lti.insecure_issuers`` (staging LMSs; a loud warning each time), like ``/lti/register``.
    """
    settings = obj.settings
    allowed = insecure_origins(settings.lti.insecure_issuers)
    for what, url in (("issuer", issuer), *(("endpoint", u) for u in urls)):
        if not url.lower().startswith("http://"):
            continue  # https (and malformed URLs, refused by add_platform with their own message)
        try:
            check_secure_url(url, what=what, allow_insecure_localhost=settings.server.demo, allowed_insecure=allowed)
        except IssuerNotSecure as exc:
            fail(f"{exc.message} [{exc.code}]")
    if issuer.lower().startswith("http://") and not settings.server.demo:
        click.echo(f"warning: {issuer} is a plain-http LMS (allowed by lti.insecure_issuers): staging only", err=True)
        logger.warning(
            "INSECURE: platform %s added over plain http because lti.insecure_issuers lists it",
            issuer,
            extra={"action": "insecure_issuer_platform_added"},
        )


@platforms.command("list")
@pass_ctx
def platforms_list(obj: CliContext) -> None:
    """List platforms."""
    obj.services.db.check_migrated()
    rows = ops.list_platforms(obj.services.db)
    if not rows:
        click.echo("no platforms: register one with 'cbsi-connect platforms add'")
        return
    forwards = forwarding.states(obj.services.db)
    click.echo(
        f"{'id':>4}  {'status':8}  {'name':32}  {'client id':24}  {'deployments':>11}  {'last launch':20}  "
        f"{'forward':7}  issuer"
    )
    for p in rows:
        click.echo(
            f"{p.id:>4}  {p.status:8}  {p.name[:32]:32}  {p.client_id[:24]:24}  {len(p.deployments):>11}  "
            f"{_last_launch(p):20}  {forwards.get(p.id, 'off'):7}  {p.issuer}"
        )


@platforms.command("show")
@click.argument("platform_id", type=int)
@pass_ctx
@_reported
def platforms_show(obj: CliContext, platform_id: int) -> None:
    """Show one platform."""
    obj.services.db.check_migrated()
    info = ops.get_platform(obj.services.db, platform_id)
    _show(info, forwarding.status(obj.services.db, platform_id))


@platforms.command("approve")
@click.argument("platform_id", type=int)
@pass_ctx
@_reported
def platforms_approve(obj: CliContext, platform_id: int) -> None:
    """Allow launches from a platform."""
    obj.services.db.check_migrated()
    info = ops.approve_platform(obj.services.db, platform_id)
    click.echo(f"platform {info.id} is active")


@platforms.command("disable")
@click.argument("platform_id", type=int)
@pass_ctx
@_reported
def platforms_disable(obj: CliContext, platform_id: int) -> None:
    """Refuse launches from a platform, and its learners' open pages, runtime calls and content."""
    obj.services.db.check_migrated()
    info = ops.disable_platform(obj.services.db, platform_id)
    delay = obj.settings.lti.platform_status_cache_seconds
    click.echo(
        f"platform {info.id} is disabled: new launches are refused now; open player pages, runtime "
        f"tokens, content links and class views stop working within {delay} s (lti.platform_status_cache_seconds)"
    )


@platforms.command("rename")
@click.argument("platform_id", type=int)
@click.argument("name")
@pass_ctx
@_reported
def platforms_rename(obj: CliContext, platform_id: int, name: str) -> None:
    """Give a platform a name people recognise (e.g. "Academy Moodle (staging)")."""
    obj.services.db.check_migrated()
    info = ops.rename_platform(obj.services.db, platform_id, name)
    click.echo(f"platform {info.id} is now named {info.name!r}")


@platforms.command("add-deployment")
@click.argument("platform_id", type=int)
@click.argument("deployment_id")
@pass_ctx
@_reported
def platforms_add_deployment(obj: CliContext, platform_id: int, deployment_id: str) -> None:
    """Accept launches from one more deployment id."""
    obj.services.db.check_migrated()
    info = ops.add_deployment(obj.services.db, platform_id, deployment_id)
    click.echo(f"platform {info.id} deployments: {', '.join(info.deployments)}")


@platforms.command("forward")
@click.argument("platform_id", type=int)
@click.option(
    "--endpoint", default=None, help="The academy LRS's xAPI endpoint, e.g. https://lrs.academy.example/xapi."
)
@click.option("--key", default=None, help="Basic auth key (user name) of the academy's LRS.")
@click.option("--secret-stdin", is_flag=True, help="Read the Basic auth secret from standard input (one line).")
@click.option(
    "--version", "version", type=click.Choice(forwarding.VERSIONS), default="1.0.3", show_default=True,
    help="xAPI version to speak to the academy's LRS.",
)  # fmt: skip
@click.option("--from-start", is_flag=True, help="Also send the statements stored before forwarding was turned on.")
@click.option("--off", "off", is_flag=True, help="Stop forwarding (settings and position are kept).")
@click.option("--resume", is_flag=True, help="Resume a paused or stopped forwarding with its saved settings.")
@click.option("--retry-dead", is_flag=True, help="Send the statements the academy's LRS refused once more.")
@pass_ctx
@_reported
def platforms_forward(
    obj: CliContext,
    platform_id: int,
    endpoint: str | None,
    key: str | None,
    secret_stdin: bool,
    version: str,
    from_start: bool,
    off: bool,
    resume: bool,
    retry_dead: bool,
) -> None:
    """Copy an academy's statements to its own LRS (sent by 'cbsi-connect sync run'); without options: show."""
    obj.services.db.check_migrated()
    db = obj.services.db
    actor = audit.Actor(audit.cli_actor(), "cli")
    chosen = [name for name, on in (("--endpoint", endpoint is not None), ("--off", off), ("--resume", resume),
                                    ("--retry-dead", retry_dead)) if on]  # fmt: skip
    if len(chosen) > 1:
        fail(f"give one of --endpoint, --off, --resume, --retry-dead (got {', '.join(chosen)})")
    if endpoint is None and (key is not None or secret_stdin or from_start):
        fail("--key, --secret-stdin and --from-start go with --endpoint")
    ops.get_platform(db, platform_id)  # platform_not_found before anything else
    if off:
        forwarding.turn_off(db, platform_id, actor=actor)
        click.echo(f"platform {platform_id}: LRS forwarding is off (settings and position kept)")
    elif resume:
        forwarding.resume(db, platform_id, actor=actor)
        click.echo(f"platform {platform_id}: LRS forwarding resumed; a running 'sync run' sends the backlog")
    elif retry_dead:
        count = forwarding.retry_dead(db, platform_id, actor=actor)
        click.echo(f"platform {platform_id}: {count} refused statements queued again")
    elif endpoint is not None:
        if key is None:
            fail("--key is missing: the academy LRS's Basic auth key")
        if not secret_stdin:
            fail("the secret is missing: pass --secret-stdin and give it on standard input (never on the command line)")
        secret = sys.stdin.readline()
        forwarding.configure(
            db, platform_id, endpoint=endpoint, key=key or "", secret=secret, version=version, from_start=from_start,
            policy=policy_from_settings(obj.settings), actor=actor,
        )  # fmt: skip
        click.echo(f"platform {platform_id}: LRS forwarding is on; 'cbsi-connect sync run' sends the statements")
    fw = forwarding.status(db, platform_id)
    _show_forwarding(fw)
    if fw.dead and not retry_dead:
        click.echo("refused statements (the academy LRS's words):")
        for d in forwarding.dead_letters(db, platform_id, limit=20):
            click.echo(f"  {d.statement_id}  {d.status}  {d.status_code or '-'}  {d.error}")


def register(cli: click.Group) -> None:
    """Attach the ``platforms`` group to the main CLI."""
    cli.add_command(platforms)
