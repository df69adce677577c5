"""LTI Assignment and Grade Services 2.0 client (requests-based, every call with a timeout).

* ``post_score`` returns the HTTP answer as data (``HttpAnswer``) so the retry policy can judge
  it; only transport failures raise.
* Line items: list with paging (``Link: <…>; rel="next"``, AGS 2.0 §3.2.3) filtered by
  ``resource_link_id``/``tag``/``resource_id``; ``find_or_create_line_item`` is idempotent per
  process (a per-key lock) and across processes as far as the platform's filter allows.
* ``get_results`` reads the Result service for reconciliation (``cbsi-connect sync verify``).
  It sends no ``limit``: Moodle 4.5's results endpoint crashes on one (404 HTML "Call to a member
  function out() on null") and answers every result in one page without it; ``next`` links are
  still followed where a platform pages anyway.
* Every URL (line items, scores, results, ``next`` links) passes the optional ``url_guard``
  before a token is even fetched: the app only lets service URLs go to the platform's registered
  hosts, so a launch cannot make the worker send the platform's bearer token elsewhere.
* Transport failures keep the HTTP layer's ``kind`` (``timeout``, ``too_large``,
  ``refused_address``, ``connection``) when it gives one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from sync.errors import (
    AgsHttpError,
    AgsTransportError,
    InvalidAgsResponseError,
    LineItemUnresolvableError,
    SyncError,
)
from sync.lti_claims import (
    AGS_SCOPES,
    LINEITEM_CONTAINER_MEDIA_TYPE,
    LINEITEM_MEDIA_TYPE,
    RESULT_CONTAINER_MEDIA_TYPE,
    SCORE_MEDIA_TYPE,
)
from sync.model import LineItemRef
from sync.ports import PlatformEndpoints, TokenProvider
from sync.retry import sanitize_message
from sync.scores import results_url, scores_url

logger = logging.getLogger(__name__)

_dumps = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode

#: reason phrase of a 2xx answer -> its sanitised text
_REASONS: dict[str, str] = {}

#: Guard against platforms whose ``next`` links loop.
MAX_PAGES = 200


USER_AGENT = "CBSI-Connect-sync/0.1 (+LTI Advantage AGS)"

#: ``(platform, url) -> None``; raises ``ValueError`` to refuse a service URL (nothing is sent).
UrlGuard = Callable[[PlatformEndpoints, str], None]


class ServiceUrlRefusedError(SyncError):
    """A service URL is not on the platform's registered hosts: nothing was sent (permanent)."""

    code = "service_url_refused"


def _transport_kind(exc: requests.RequestException, default: str) -> str:
    kind = getattr(exc, "kind", None)
    return kind if isinstance(kind, str) and kind else default


def _transport_error(method: str, url: str, exc: requests.RequestException) -> AgsTransportError:
    if isinstance(exc, requests.Timeout):
        return AgsTransportError(key="request_timed_out", params={"method": method, "url": url}, kind="timeout")
    kind = _transport_kind(exc, "connection")
    detail = str(exc) if kind != "connection" or hasattr(exc, "kind") else type(exc).__name__
    return AgsTransportError(
        key="request_failed", params={"method": method, "url": url, "detail": sanitize_message(detail, 200)}, kind=kind
    )


def make_session(
    pool_maxsize: int = 16,
    pool_connections: int = 32,
    *,
    proxies: Mapping[str, str] | None = None,
) -> requests.Session:
    """A ``requests.Session`` whose connection pool fits the worker's concurrency.

    The environment is NOT consulted (``trust_env = False``): requests would otherwise re-read
    proxy variables and stat ``~/.netrc`` on every call (a third of the worker's CPU in the
    benchmark), and a netrc entry could replace our bearer token with Basic auth. Give proxies
    explicitly instead.

    Args:
        pool_maxsize: kept-alive connections per host (≥ ``per_platform_concurrency``; a smaller
            pool makes urllib3 drop and re-open connections).
        pool_connections: number of hosts whose pools are cached (≥ number of platforms).
        proxies: e.g. ``{"https": "http://proxy:3128"}`` (config ``sync.https_proxy``).
    """
    session = requests.Session()
    session.trust_env = False
    if proxies:
        session.proxies.update(proxies)
    adapter = HTTPAdapter(pool_connections=pool_connections, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


@dataclass(frozen=True, kw_only=True)
class HttpAnswer:
    """What a platform answered (status, ``Retry-After``, sanitised message excerpt)."""

    status_code: int
    retry_after: str | None = None
    message: str = ""


class AgsClient:
    """AGS calls for one process; thread-safe if the session is (requests' is, for this use)."""

    def __init__(
        self,
        tokens: TokenProvider,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        scopes: Sequence[str] = AGS_SCOPES,
        page_limit: int = 100,
        url_guard: UrlGuard | None = None,
        lean_scores: bool = True,
        authorization_memo_seconds: float = 1.0,
    ) -> None:
        self._url_guard = url_guard
        #: (platform key, issuer, client id, token URL, service URL) -> (monotonic until, token)
        self._auth_memo: dict[tuple[str, str, str, str, str], tuple[float, str]] = {}
        self._auth_memo_seconds = authorization_memo_seconds
        self._tokens = tokens
        self._session = session or make_session()
        self._timeout = timeout
        self._scopes = tuple(scopes)
        self._page_limit = page_limit
        self._create_locks: dict[tuple[str, str], threading.Lock] = {}
        #: line item URL -> its scores URL (parsing it for every score showed in the profile)
        self._scores_urls: dict[str, str] = {}
        self._create_guard = threading.Lock()
        # The outbound client's lean POST (lti_tool.outbound.OutboundClient.post_bytes) for scores;
        # a plain requests.Session, or one sending through a proxy, keeps the requests path.
        post_bytes = getattr(self._session, "post_bytes", None)
        self._post_bytes: Callable[..., Any] | None = (
            post_bytes if lean_scores and callable(post_bytes) and not self._session.proxies else None
        )

    # -- plumbing ---------------------------------------------------------------------------
    def _authorized(self, platform: PlatformEndpoints, url: str, *, force_refresh: bool) -> str:
        """The bearer token for a call to ``url``, once the URL guard accepted it (both POST paths).

        The (guard verdict, token) pair of a platform and URL is remembered for
        ``authorization_memo_seconds`` (the worker posts every score of a line item to one URL; the
        guard and the token provider each keep their own, longer, caches behind this). A forced
        refresh, ``refresh_token`` and a refused URL skip or clear it.
        """
        memo_key = (platform.key, platform.issuer, platform.client_id, platform.token_url, url)
        if not force_refresh:
            hit = self._auth_memo.get(memo_key)
            if hit is not None and time.monotonic() < hit[0]:
                return hit[1]
        token = self._authorized_now(platform, url, force_refresh=force_refresh)
        if self._auth_memo_seconds > 0:
            if len(self._auth_memo) >= 4096:  # bounded: line items, not scores
                self._auth_memo.clear()
            self._auth_memo[memo_key] = (time.monotonic() + self._auth_memo_seconds, token)
        return token

    def _authorized_now(self, platform: PlatformEndpoints, url: str, *, force_refresh: bool) -> str:
        if self._url_guard is not None:
            try:
                self._url_guard(platform, url)
            except ValueError as exc:
                raise ServiceUrlRefusedError(str(exc)) from exc
        return self._tokens.get_token(platform, self._scopes, force_refresh=force_refresh)

    def _request(
        self,
        platform: PlatformEndpoints,
        method: str,
        url: str,
        *,
        force_refresh: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        token = self._authorized(platform, url, force_refresh=force_refresh)
        all_headers = {"Authorization": f"Bearer {token}"}
        all_headers.update(headers or {})
        try:
            return self._session.request(
                method, url, headers=all_headers, timeout=self._timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise _transport_error(method, url, exc) from exc

    @staticmethod
    def _answer(resp: requests.Response) -> HttpAnswer:
        text = resp.text if resp.status_code >= 300 else ""
        return HttpAnswer(
            status_code=resp.status_code,
            retry_after=resp.headers.get("Retry-After"),
            message=sanitize_message(text or resp.reason or "", 500),
        )

    def _checked_json(self, resp: requests.Response, what: str) -> Any:
        if resp.status_code >= 300:
            answer = self._answer(resp)
            raise AgsHttpError(
                key="platform_answered",
                params={"what": what, "status_code": answer.status_code, "message": answer.message},
                status_code=answer.status_code,
                retry_after=answer.retry_after,
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise InvalidAgsResponseError(key="platform_answer_json", params={"what": what}) from exc

    def _get_paged(
        self,
        platform: PlatformEndpoints,
        url: str,
        params: dict[str, str],
        accept: str,
        what: str,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        next_params: dict[str, str] | None = params
        for _ in range(MAX_PAGES):
            if next_url is None:
                return items
            resp = self._request(
                platform, "GET", next_url, params=next_params, headers={"Accept": accept}
            )
            body = self._checked_json(resp, what)
            if not isinstance(body, list):
                raise InvalidAgsResponseError(key="expected_json_array", params={"what": what})
            items.extend(x for x in body if isinstance(x, dict))
            link = resp.links.get("next")
            next_url = link.get("url") if link else None
            next_params = None  # the next link carries its own query
        raise InvalidAgsResponseError(key="more_than_pages_looping_next", params={"what": what, "MAX_PAGES": MAX_PAGES})

    def refresh_token(self, platform: PlatformEndpoints) -> None:
        """Force a new access token for ``platform`` (after a 401)."""
        self._auth_memo.clear()  # rare: every remembered token is asked for again
        self._tokens.get_token(platform, self._scopes, force_refresh=True)
        self._auth_memo.clear()

    # -- scores -----------------------------------------------------------------------------
    def post_score(
        self,
        platform: PlatformEndpoints,
        lineitem_url: str,
        payload: dict[str, Any],
        *,
        force_refresh: bool = False,
    ) -> HttpAnswer:
        """POST a Score to ``{lineitem}/scores`` (AGS 2.0 §3.4).

        Returns:
            The platform's answer (any status).

        Raises:
            AgsTransportError: timeout / connection failure (also from the token endpoint).
            sync.errors.TokenRequestError: the token endpoint refused.
        """
        url = self._scores_urls.get(lineitem_url)
        if url is None:
            if len(self._scores_urls) >= 4096:  # bounded: line items, not scores
                self._scores_urls.clear()
            url = self._scores_urls[lineitem_url] = scores_url(lineitem_url)
        if self._post_bytes is not None:
            answer = self._post_score_lean(platform, url, payload, force_refresh=force_refresh)
            if answer is not None:
                return answer
        resp = self._request(
            platform,
            "POST",
            url,
            force_refresh=force_refresh,
            json=payload,
            headers={"Content-Type": SCORE_MEDIA_TYPE},
        )
        return self._answer(resp)

    def _post_score_lean(
        self, platform: PlatformEndpoints, url: str, payload: dict[str, Any], *, force_refresh: bool
    ) -> HttpAnswer | None:
        """The score POST on the outbound client's lean path (same guard, token, deadline, cap
        and typed errors as ``_request``, a fraction of its CPU); ``None`` on a redirect, which
        the caller then sends again through ``requests`` (the path that follows redirects)."""
        post_bytes = self._post_bytes
        assert post_bytes is not None
        token = self._authorized(platform, url, force_refresh=force_refresh)
        try:
            body = _dumps(payload).encode()
        except ValueError as exc:  # NaN / infinity: what requests reports as InvalidJSONError
            raise _transport_error("POST", url, requests.exceptions.InvalidJSONError(str(exc))) from exc
        headers = {"Authorization": "Bearer " + token, "Content-Type": SCORE_MEDIA_TYPE}
        try:
            raw = post_bytes(url, body, headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise _transport_error("POST", url, exc) from exc
        status = raw.status
        if 300 <= status < 400 and status != 304:
            return None
        if status < 300:
            reason = _REASONS.get(raw.reason)
            if reason is None:  # a handful of distinct texts ("OK", "Created"): cleaned once each
                if len(_REASONS) >= 64:
                    _REASONS.clear()
                reason = _REASONS[raw.reason] = sanitize_message(raw.reason, 500)
            return HttpAnswer(status_code=status, retry_after=raw.header("retry-after"), message=reason)
        return HttpAnswer(
            status_code=status,
            retry_after=raw.header("retry-after"),
            message=sanitize_message(raw.text() or raw.reason or "", 500),
        )

    # -- line items -------------------------------------------------------------------------
    def list_line_items(
        self,
        platform: PlatformEndpoints,
        lineitems_url: str,
        *,
        resource_link_id: str | None = None,
        tag: str | None = None,
        resource_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """All line items of the container matching the filters, following ``next`` links.

        The filters are sent as query parameters (AGS 2.0 §3.2.2) AND re-applied locally,
        because some platforms ignore them.
        """
        params: dict[str, str] = {"limit": str(self._page_limit)}
        if resource_link_id is not None:
            params["resource_link_id"] = resource_link_id
        if tag is not None:
            params["tag"] = tag
        if resource_id is not None:
            params["resource_id"] = resource_id
        items = self._get_paged(
            platform, lineitems_url, params, LINEITEM_CONTAINER_MEDIA_TYPE, "list line items"
        )
        return [
            it
            for it in items
            if (resource_link_id is None or str(it.get("resourceLinkId")) == resource_link_id)
            and (tag is None or it.get("tag") == tag)
            and (resource_id is None or it.get("resourceId") == resource_id)
        ]

    def create_line_item(
        self, platform: PlatformEndpoints, lineitems_url: str, ref: LineItemRef
    ) -> dict[str, Any]:
        """POST a new line item (AGS 2.0 §3.2.4); returns the platform's line item JSON."""
        body: dict[str, Any] = {
            "label": ref.label or ref.tag or "CBSI-Connect activity",
            "scoreMaximum": ref.score_maximum,
        }
        if ref.resource_id:
            body["resourceId"] = ref.resource_id
        if ref.tag:
            body["tag"] = ref.tag
        if ref.resource_link_id:
            body["resourceLinkId"] = ref.resource_link_id
        resp = self._request(
            platform,
            "POST",
            lineitems_url,
            json=body,
            headers={"Content-Type": LINEITEM_MEDIA_TYPE, "Accept": LINEITEM_MEDIA_TYPE},
        )
        created = self._checked_json(resp, "create line item")
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise InvalidAgsResponseError(key="create_line_item_answer_line")
        return created

    def find_or_create_line_item(self, platform: PlatformEndpoints, ref: LineItemRef) -> str:
        """Return the URL of the line item for ``ref``, creating it when absent.

        Idempotent: searches by (resourceLinkId, tag) first; concurrent callers in this process
        are serialised per (platform, lineitems URL, link, tag). Across processes two workers
        could still both create one; every later lookup then picks the same one (the lexically
        smallest id URL), so scores never split between the duplicates.

        Raises:
            LineItemUnresolvableError: ``ref`` has no URL and no ``lineitems_url``.
            AgsHttpError, AgsTransportError: platform errors.
        """
        if ref.url:
            return ref.url
        if not ref.lineitems_url:
            raise LineItemUnresolvableError(
                key="launch_gave_neither_lineitem_nor"
            )
        lock_key = (platform.key, f"{ref.lineitems_url}|{ref.resource_link_id}|{ref.tag}")
        with self._create_guard:
            lock = self._create_locks.setdefault(lock_key, threading.Lock())
        with lock:
            found = self.list_line_items(
                platform, ref.lineitems_url, resource_link_id=ref.resource_link_id, tag=ref.tag
            )
            ids = sorted(str(it["id"]) for it in found if isinstance(it.get("id"), str))
            if ids:
                return ids[0]
            created = self.create_line_item(platform, ref.lineitems_url, ref)
            logger.info(
                "line item created",
                extra={
                    "action": "line_item_created",
                    "platform": platform.key,
                    "resource_link_id": ref.resource_link_id,
                    "tag": ref.tag,
                },
            )
            return str(created["id"])

    # -- results ----------------------------------------------------------------------------
    def get_results(
        self, platform: PlatformEndpoints, lineitem_url: str, *, user_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Results of a line item (AGS 2.0 §3.3), all pages; optionally one learner's.

        No ``limit`` is sent (``limit`` is optional, AGS 2.0 §3.3.2): Moodle 4.5 answers
        ``?limit=`` on results with a 404 HTML crash page, and everything without it.
        """
        params: dict[str, str] = {}
        if user_id is not None:
            params["user_id"] = user_id
        return self._get_paged(
            platform, results_url(lineitem_url), params, RESULT_CONTAINER_MEDIA_TYPE, "results"
        )
