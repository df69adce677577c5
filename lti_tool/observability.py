"""Request ids and Prometheus metrics of the web tier (launches, runtime commits, errors).

Request id: an incoming ``X-Request-ID`` is kept only when it is a short safe token
(:data:`SAFE_REQUEST_ID`: at most 64 of ``[A-Za-z0-9._-]``); otherwise a new one is generated.
It is echoed in the response's ``X-Request-ID`` and set in ``request_id_var`` for the request,
so every log line written while serving it carries it (``lti_tool.logging_setup``).

Metrics (appended to ``/metrics`` after the grade outbox's; no personal data, no raw paths):

* ``cbsi_http_request_duration_seconds{endpoint,method,status}`` (histogram): every request,
  ``endpoint`` the Flask URL rule (``/runtime/<attempt_id>/<item_id>/commit``), ``unmatched`` for 404s;
* ``cbsi_lti_launch_duration_seconds{status}`` (histogram): ``POST /lti/launch``;
* ``cbsi_runtime_commit_duration_seconds{status}`` (histogram): runtime commits;
* ``cbsi_errors_total{code}`` (counter): every error answer (status ≥ 400) by the stable code the
  client received (``error`` of a JSON answer, ``code`` of the error page), ``http_<status>``
  when the answer carried none;
* ``cbsi_platform_info{platform,academy}`` (gauge, 1): the academy name of each platform id, to
  join onto ``cbsi_grade_outbox_rows`` (queue depth per academy):
  ``cbsi_grade_outbox_rows * on(platform) group_left(academy) cbsi_platform_info``.

Grade delivery latency is the outbox's ``cbsi_grade_delivery_latency_seconds`` (computed from the
table by ``lti_tool.web.metrics``: the worker is another process, its rows hold the timestamps).

Several gunicorn worker processes: ``cbsi-connect serve`` gives them a shared
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), so a scrape answered by any
process reports the sum over all of them and counters never jump between processes. Without that
variable (tests, a single process) the values live in the process.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request, template_rendered
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prom_multiprocess

from lti_tool.logging_setup import request_id_var
from lti_tool.services import services_of

REQUEST_ID_HEADER = "X-Request-ID"
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Flask endpoints of the two hot paths with their own histograms.
LAUNCH_ENDPOINT = "lti.launch"
COMMIT_ENDPOINT = "player.commit"
METRICS_ENDPOINT = "metrics.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Metrics:
    """The process's metric objects (created once, on the first app: after gunicorn's fork)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "cbsi_http_request_duration_seconds",
            "Web requests by Flask URL rule, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.launches = Histogram(
            "cbsi_lti_launch_duration_seconds",
            "LTI launches (POST /lti/launch) by status.",
            ["status"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.commits = Histogram(
            "cbsi_runtime_commit_duration_seconds",
            "Runtime commits (POST /runtime/.../commit) by status.",
            ["status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.errors = Counter(
            "cbsi_errors",
            "Error answers (status >= 400) by the stable code the client received.",
            ["code"],
            registry=self.registry,
        )
        self.lrs_forwarded = Counter(
            "cbsi_lrs_forward_statements",
            "Statements forwarded to academies' LRSs by platform and outcome (delivered, dead), "
            "and forwarding retries and pauses.",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.lrs_forward_requests = Histogram(
            "cbsi_lrs_forward_request_duration_seconds",
            "POSTs to academies' LRSs by status (or transport error kind).",
            ["status"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )


_metrics: _Metrics | None = None


def metrics() -> _Metrics:
    """The process's metrics (created on first use)."""
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def observe_forwarding(kind: str, platform_id: int, status: str, value: float) -> None:
    """The LRS forwarder's observer: a request's duration, or a count of statements by outcome."""
    m = metrics()
    if kind == "request":
        m.lrs_forward_requests.labels(status=status).observe(value)
    else:
        m.lrs_forwarded.labels(platform=str(platform_id), outcome=kind).inc(value)


def request_id_from(header: str | None) -> str:
    """The incoming id when it is a short safe token, else a fresh one."""
    if header and SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def error_code_label(code: object) -> str | None:
    """A code usable as a label value (bounded charset and length), or None."""
    return code if isinstance(code, str) and _SAFE_CODE.fullmatch(code) else None


def _answer_code(response: Response) -> str:
    code = g.get("_cbsi_error_code")
    if code is None and response.mimetype == "application/json" and not response.is_streamed:
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            code = error_code_label(body.get("error"))
    return code or f"http_{response.status_code}"


#: The environ key of a request's start (``time.perf_counter``) when something before Flask timed it
#: first (the commit fast path, ``lti_tool.web.commit_fast``, handing a request to Flask).
STARTED_KEY = "cbsi.request_started"


def observe_request(rule: str, endpoint: str | None, method: str, status: int, elapsed: float) -> None:
    """Record one answered request: its histograms (every request's, a launch's or a commit's)."""
    m = metrics()
    label = str(status)
    m.requests.labels(rule, method if method in _METHODS else "OTHER", label).observe(elapsed)
    if endpoint == LAUNCH_ENDPOINT:
        m.launches.labels(label).observe(elapsed)
    elif endpoint == COMMIT_ENDPOINT:
        m.commits.labels(label).observe(elapsed)


def _on_template(sender: Flask, template: Any, context: dict[str, Any], **_: Any) -> None:
    """The error page (or a feature's own ``…error.html``) names its code: remember it for the counter."""
    if (template.name or "").endswith("error.html"):
        code = error_code_label(context.get("code"))
        if code is not None:
            g._cbsi_error_code = code


def exposition(db: Any | None = None) -> str:
    """This service's metrics in the Prometheus text format (all processes in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry).decode()
    else:
        text = generate_latest(metrics().registry).decode()
    if db is not None:
        text += _platform_info(db)
    return text


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _platform_info(db: Any) -> str:
    from lti_tool.lti.platforms import list_platforms

    lines = [
        "# HELP cbsi_platform_info Academy (platform) name of each platform id, 1.",
        "# TYPE cbsi_platform_info gauge",
    ]
    lines += [
        f'cbsi_platform_info{{platform="{p.id}",academy="{_label((p.name or p.issuer or "")[:200])}"}} 1'
        for p in list_platforms(db)
    ]
    return "\n".join(lines) + "\n"


def init_app(app: Flask) -> None:
    """Register the request hooks (first, so every other hook's refusals are timed and counted)."""
    metrics()
    template_rendered.connect(_on_template, app)

    @app.before_request
    def _start() -> None:
        rid = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        started = request.environ.get(STARTED_KEY)
        g._cbsi_request = (rid, request_id_var.set(rid), started if started is not None else time.perf_counter())

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("_cbsi_request")
        if started is None:
            return response
        rid, _token, t0 = started
        elapsed = time.perf_counter() - t0
        response.headers[REQUEST_ID_HEADER] = rid
        rule = request.url_rule
        observe_request(
            rule.rule if rule is not None else "unmatched",
            request.endpoint,
            request.method,
            response.status_code,
            elapsed,
        )
        if response.status_code >= 400:
            metrics().errors.labels(_answer_code(response)).inc()
        elif request.endpoint == METRICS_ENDPOINT and response.status_code == 200:
            # appended after the grade outbox metrics, behind the same access checks
            response.set_data(response.get_data() + exposition(services_of(app).db).encode())
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        started = g.pop("_cbsi_request", None)
        if started is not None:
            try:
                request_id_var.reset(started[1])
            except ValueError:  # set in another context (a test client's copied context)
                request_id_var.set(None)
