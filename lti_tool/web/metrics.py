"""``/metrics``: grade outbox health in the Prometheus text format (one grouped query per scrape).

Exposes no personal data: platform ids and counts only.

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

from datetime import UTC, datetime

from flask import Blueprint, Flask, Response

from lti_tool.storage.outbox import LATENCY_BUCKETS, PlatformSummary, SqlOutboxStore
from lti_tool.web import services
from sync.model import OutboxStatus

bp = Blueprint("metrics", __name__)

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


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus scrape endpoint."""
    now = datetime.now(UTC)
    summaries = SqlOutboxStore(services().db).summary(now=now)
    return Response(render(summaries, now), mimetype=None, content_type=CONTENT_TYPE)


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
