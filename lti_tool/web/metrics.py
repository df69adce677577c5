"""``/metrics``: grade outbox health in the Prometheus text format (one grouped query per scrape).

Exposes no personal data: platform ids and counts only.

Who may scrape it (``[metrics]`` settings; every check that is configured must pass):

* ``listen = "IP:port"``: ``cbsi-connect serve`` also listens on that internal address, and
  ``/metrics`` answers only on connections that arrived there (404 on the public address, so a
  reverse proxy in front never exposes it);
* ``token``: ``Authorization: Bearer <token>`` (compared in constant time; 401 otherwise);
* ``allow_from``: client networks (CIDR) allowed (403 otherwise).

With none of them configured, demo mode answers everyone (as before); outside demo mode only
loopback clients that did not come through a proxy (no ``Forwarded``/``X-Forwarded-For``/
``X-Real-IP`` header) are answered.

* ``cbsi_grade_outbox_rows{platform,status}`` (gauge): rows per status (pending, in_flight,
  delivered, superseded, dead).
* ``cbsi_grade_delivered_last_hour{platform}`` (gauge): rows the platform accepted in the hour.
* ``cbsi_grade_oldest_pending_age_seconds{platform}`` (gauge): how long the oldest undelivered
  outcome has waited.
* ``cbsi_grade_delivery_latency_seconds{platform}`` (histogram): outcome change → accepted by
  the platform, over the last hour's deliveries (a sliding window computed from the table, so
  its buckets can go down between scrapes; use it for ``histogram_quantile``, not ``rate``).
* then the web tier's own metrics, appended to a 200 answer by ``lti_tool.observability``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import NotFound

from lti_tool.errors import AppError
from lti_tool.services import services_of
from lti_tool.settings import MetricsSettings
from lti_tool.storage.outbox import LATENCY_BUCKETS, PlatformSummary, SqlOutboxStore
from lti_tool.web import services
from lti_tool.web.errors import error_response
from sync.model import OutboxStatus

logger = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(summaries: list[PlatformSummary], now: datetime) -> str:
    """The exposition text for ``summaries``."""
    lines = [
        "# HELP cbsi_grade_outbox_rows Grade outbox rows per platform and status.",
        "# TYPE cbsi_grade_outbox_rows gauge",
    ]
    for sm in summaries:
        for status in OutboxStatus:
            lines.append(
                f'cbsi_grade_outbox_rows{{platform="{_label(sm.platform_key)}",status="{status}"}} {sm.count(status)}'
            )
    lines += [
        "# HELP cbsi_grade_delivered_last_hour Scores the platform accepted in the last hour.",
        "# TYPE cbsi_grade_delivered_last_hour gauge",
    ]
    lines += [
        f'cbsi_grade_delivered_last_hour{{platform="{_label(sm.platform_key)}"}} {sm.delivered_last_hour}'
        for sm in summaries
    ]
    lines += [
        "# HELP cbsi_grade_oldest_pending_age_seconds Age of the oldest undelivered outcome (0: none).",
        "# TYPE cbsi_grade_oldest_pending_age_seconds gauge",
    ]
    for sm in summaries:
        age = 0.0 if sm.oldest_pending_at is None else max(0.0, (now - sm.oldest_pending_at).total_seconds())
        lines.append(f'cbsi_grade_oldest_pending_age_seconds{{platform="{_label(sm.platform_key)}"}} {age:.3f}')
    lines += [
        "# HELP cbsi_grade_delivery_latency_seconds Outcome change to platform acceptance, last hour's deliveries.",
        "# TYPE cbsi_grade_delivery_latency_seconds histogram",
    ]
    for sm in summaries:
        plat = _label(sm.platform_key)
        bounds = [f"{b:g}" for b in LATENCY_BUCKETS] + ["+Inf"]
        for bound, count in zip(bounds, sm.latency_buckets, strict=True):
            lines.append(f'cbsi_grade_delivery_latency_seconds_bucket{{platform="{plat}",le="{bound}"}} {count}')
        lines.append(f'cbsi_grade_delivery_latency_seconds_sum{{platform="{plat}"}} {sm.latency_sum_seconds:.3f}')
        lines.append(f'cbsi_grade_delivery_latency_seconds_count{{platform="{plat}"}} {sm.latency_buckets[-1]}')
    return "\n".join(lines) + "\n"


class MetricsRefused(AppError):
    """Metrics are not available to this client."""

    code = "metrics_forbidden"
    status = 403


def _local_address() -> tuple[str, int] | None:
    """The (IP, port) the request's connection arrived on (gunicorn and werkzeug expose the socket)."""
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    try:
        host, port = sock.getsockname()[:2]
    except (AttributeError, OSError, TypeError, ValueError):
        return None
    return str(host), int(port)


def _arrived_on(listen: str) -> bool:
    host, _, port = listen.rpartition(":")
    local = _local_address()
    if local is None or local[1] != int(port):
        return False
    wanted = ipaddress.ip_address(host.strip("[]"))
    return wanted.is_unspecified or ipaddress.ip_address(local[0].split("%")[0]) == wanted


def _client_in(networks: tuple[str, ...]) -> bool:
    try:
        client = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(n, strict=False) for n in networks)


def check_access(config: MetricsSettings, *, demo: bool) -> None:
    """Refuse the scrape unless every configured check passes (module docstring).

    Raises:
        NotFound: ``listen`` is set and the request did not arrive there.
        MetricsRefused: 401 wrong or missing token, 403 client not allowed.
    """
    if config.listen and not _arrived_on(config.listen):
        raise NotFound()
    if config.token:
        header = request.headers.get("Authorization", "")
        sent = header[7:].strip() if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(sent.encode(), config.token.encode()):
            raise MetricsRefused("a valid metrics bearer token is required", code="metrics_token_required", status=401)
    if config.allow_from and not _client_in(config.allow_from):
        raise MetricsRefused("metrics are not available from this address")
    if not (config.listen or config.token or config.allow_from or demo):
        proxied = any(request.headers.get(h) for h in PROXY_HEADERS)
        if proxied or not _client_in(("127.0.0.0/8", "::1/128")):
            raise MetricsRefused(
                "metrics are only available from this machine; set metrics.token, metrics.listen "
                "or metrics.allow_from to scrape from elsewhere"
            )


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus scrape endpoint."""
    settings = services().settings
    try:
        check_access(settings.metrics, demo=settings.server.demo)
    except MetricsRefused as exc:
        refused = error_response(exc.status, exc.code, exc.message)
        if exc.status == 401:
            refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    now = datetime.now(UTC)
    summaries = SqlOutboxStore(services().db).summary(now=now)
    response = Response(render(summaries, now), mimetype=None, content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    settings = services_of(app).settings
    config = settings.metrics
    if not (settings.server.demo or config.token or config.listen or config.allow_from):
        logger.info(
            "/metrics answers loopback clients only (not through a proxy); "
            "set metrics.token, metrics.listen or metrics.allow_from to scrape from elsewhere",
            extra={"action": "metrics_access"},
        )
    app.register_blueprint(bp)
