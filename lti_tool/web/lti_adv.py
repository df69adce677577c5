"""LTI Advantage routes: dynamic registration, the deep linking picker, the tool logo.

Routes:
    GET  /lti/register               Dynamic Registration (opened by the LMS in a popup/iframe)
    GET  /lti/logo.svg               the tool logo named in the registration
    POST /lti/deep-linking/picker    search the catalogue again (carries the picker token)
    POST /lti/deep-linking/respond   build and auto-post the signed LtiDeepLinkingResponse

The deep linking launch itself arrives at ``/lti/launch`` (another blueprint), which calls
:func:`deep_linking_launch` through the app's handler registry (``Services.launch_handlers``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, render_template, request

from lti_tool.lti import launches
from lti_tool.lti.context import Launch, LaunchPage
from lti_tool.lti.deeplinking import (
    MESSAGE_TYPE_REQUEST,
    CatalogueEntry,
    CatalogueSource,
    DeepLinkingContext,
    DeepLinkingError,
    PickerTokenInvalid,
    build_deep_linking_response,
    context_from_launch,
    issue_picker_token,
    read_picker_token,
    resolve_selection,
)
from lti_tool.lti.nrps import Roster
from lti_tool.lti.registration import DynamicRegistration, RegistrationError, ToolUrls
from lti_tool.lti.tokens import ServiceTokens
from lti_tool.services import services_of
from lti_tool.storage.models import utcnow
from lti_tool.web import services
from lti_tool.web.i18n import error_text

logger = logging.getLogger(__name__)

bp = Blueprint("lti_adv", __name__)

#: Headers of every picker page (it carries a signed token and the LMS's return URL).
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64" role="img" '
    'aria-label="CBSI-Connect"><rect width="64" height="64" rx="12" fill="#12263f"/>'
    '<path d="M16 32a16 16 0 0 1 27-11.6l-4.2 4.2A10 10 0 1 0 42 32h6a16 16 0 0 1-32 0z" fill="#ffbf47"/></svg>'
)


def _no_store(response: Response) -> Response:
    response.headers.update(NO_STORE)
    return response


# -- collaborators -------------------------------------------------------------------------


def catalogue() -> CatalogueSource:
    """The catalogue the picker searches (``Services.catalogue``: the ``courses`` table by default)."""
    return services().catalogue


def service_tokens() -> ServiceTokens:
    """The app's service-token client (AGS, NRPS)."""
    return services().service_tokens


def roster_for(launch: Launch, *, refresh: bool = False) -> Roster:
    """The NRPS roster of ``launch``'s course (cached; see :class:`lti_tool.lti.nrps.RosterClient`)."""
    return services().roster.get_roster(launch, refresh=refresh)


def tool_urls() -> ToolUrls:
    """The tool's public URLs."""
    return ToolUrls(base_url=services().settings.server.base_url)


def load_launch(launch_id: str) -> Launch | None:
    """The stored, unexpired launch ``launch_id`` (None when unknown or expired)."""
    return launches.load_launch(services().db, launch_id, now=utcnow())


# -- dynamic registration ------------------------------------------------------------------


@bp.get("/lti/register")
def register() -> Response:
    """Dynamic Registration (LTI DR 1.0): register with the LMS and tell the admin what is next."""
    from lti_tool.web.security import guard_registration

    guard_registration()  # 429 per client address, 503 at the cap of pending registrations
    settings = services().settings
    flow = DynamicRegistration(
        services().db,
        urls=tool_urls(),
        tool_name=settings.lti.tool_name,
        timeout=settings.lti.http_timeout_seconds,
        auto_approve_issuers=settings.lti.auto_approve_issuers,
        allow_insecure_localhost=settings.server.demo or current_app.testing,
        insecure_issuers=settings.lti.insecure_issuers,
        session=services().http,
    )
    try:
        result = flow.register(
            request.args.get("openid_configuration"),
            request.args.get("registration_token"),
        )
    except RegistrationError as exc:
        logger.warning(
            "dynamic registration failed: %s (%s)",
            exc.code,
            exc.message,
            extra={"action": "dynamic_registration_failed"},
        )
        page = render_template("lti_adv/registration_error.html", code=exc.code, message=exc.message)
        return _no_store(Response(page, status=exc.status, mimetype="text/html"))
    finally:
        flow.close()
    page = render_template("lti_adv/registered.html", result=result, tool_name=settings.lti.tool_name)
    return _no_store(Response(page, status=200, mimetype="text/html"))


@bp.get("/lti/logo.svg")
def logo() -> Response:
    """The tool's logo (``logo_uri`` of the registration)."""
    response = Response(LOGO_SVG, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# -- deep linking --------------------------------------------------------------------------


def _filters() -> tuple[str, str | None, str | None]:
    source = request.form if request.method == "POST" else request.args
    query = (source.get("q") or "").strip()[:200]
    standard = (source.get("standard") or "").strip()[:40] or None
    language = (source.get("language") or "").strip()[:20] or None
    return query, standard, language


def _render_picker(ctx: DeepLinkingContext, token: str, *, error: str | None = None, status: int = 200) -> Response:
    return _no_store(Response(_picker_html(ctx, token, error=error), status=status, mimetype="text/html"))


def _picker_html(ctx: DeepLinkingContext, token: str, *, error: str | None = None) -> str:
    query, standard, language = _filters()
    source = catalogue()
    entries: list[CatalogueEntry] = source.search(query, standard, language)
    everything = source.search("", None, None)
    standards = sorted({e.standard for e in everything if e.standard})
    languages = sorted({e.language for e in everything if e.language})
    return render_template(
        "lti_adv/picker.html",
        ctx=ctx,
        token=token,
        entries=entries,
        query=query,
        standard=standard or "",
        language=language or "",
        standards=standards,
        languages=languages,
        error=error,
    )


def deep_linking_launch(launch: Launch) -> LaunchPage:
    """Handler for validated ``LtiDeepLinkingRequest`` launches: the catalogue picker.

    Raises:
        DeepLinkingError: not an instructor, or the LMS does not accept resource links here.
    """
    ctx = context_from_launch(launch)
    token = issue_picker_token(ctx, secret=current_app.secret_key or "", now=utcnow())
    return LaunchPage(_picker_html(ctx, token), headers=NO_STORE)


def _verified_context() -> tuple[DeepLinkingContext, str]:
    from lti_tool.web.security import platform_gate

    token = request.form.get("dl_token")
    ctx = read_picker_token(token, secret=current_app.secret_key or "", now=utcnow())
    platform_gate().check(ctx.platform_id)  # an open picker of a disabled platform adds nothing
    launch = load_launch(ctx.launch_id)
    if launch is None or (launch.platform_id, launch.deployment_id) != (ctx.platform_id, ctx.deployment_id):
        raise PickerTokenInvalid()
    return ctx, token or ""


@bp.post("/lti/deep-linking/picker")
def picker_search() -> Response:
    """Search the catalogue again inside an open picker."""
    ctx, token = _verified_context()
    return _render_picker(ctx, token)


@bp.post("/lti/deep-linking/respond")
def picker_respond() -> Response:
    """Sign the selection and post it back to the LMS."""
    ctx, token = _verified_context()
    try:
        entries = resolve_selection(
            request.form.getlist("course"), catalogue=catalogue(), accept_multiple=ctx.accept_multiple
        )
    except DeepLinkingError as exc:
        return _render_picker(ctx, token, error=error_text(exc), status=exc.status)
    jwt_token = build_deep_linking_response(ctx, entries, keys=services().keys, launch_url=tool_urls().launch)
    page = render_template("lti_adv/autopost.html", action=ctx.return_url, jwt=jwt_token, entries=entries)
    return _no_store(Response(page, status=200, mimetype="text/html"))


def init_app(app: Flask) -> None:
    """Register the blueprint and the deep linking handler."""
    container = services_of(app)
    settings = container.settings
    container.launch_handlers.register(MESSAGE_TYPE_REQUEST, deep_linking_launch)
    app.register_blueprint(bp)
    if settings.lti.insecure_issuers:
        logger.warning(
            "INSECURE: lti.insecure_issuers accepts plain-http LMSs (%s); their launches and service tokens "
            "travel unencrypted: use this for staging LMSs only",
            ", ".join(settings.lti.insecure_issuers),
            extra={"action": "insecure_issuers_enabled"},
        )


__all__ = ["bp", "deep_linking_launch", "init_app", "load_launch", "roster_for", "service_tokens"]
