"""The words of the ``sync`` package's errors, keyed by a stable key.

A raise site names its sentence (``key``) and the values to fill in (``params``), never the
words themselves (see :class:`sync.errors.SyncError`). The English sentence is the gettext
message id: the CLI, the worker's logs and the outbox's ``last_error`` read it through
:func:`english`; ``babel.cfg`` extracts this module so the web layer can translate it.

Framework-free and without ``lti_tool`` imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

Params = Mapping[str, object]


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the gettext catalogues; returns it unchanged."""
    return message


MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        # -- by code (sync.errors; the class's own sentence)
        "sync_error": N_("Grade delivery failed."),
        "naive_datetime": N_("A datetime without a timezone was given; use timezone-aware UTC datetimes."),
        "invalid_outcome": N_("The learning outcome cannot be turned into an AGS score."),
        "invalid_transition": N_("An outbox item was asked to move between two states that are not connected."),
        "platform_not_found": N_("No platform registration is known under this key; check `cbsi-connect platforms`."),
        "signing_key_unavailable": N_(
            "The tool's signing key is missing or unusable; run `cbsi-connect keys generate`."
        ),
        "ags_transport": N_("The platform could not be reached (timeout or connection error)."),
        "ags_http_error": N_("The platform answered an AGS or token request with an error status."),
        "token_request_failed": N_("The platform's token endpoint refused the client-credentials grant."),
        "invalid_ags_response": N_("The platform answered with a body that is not the AGS JSON it should be."),
        "line_item_unresolvable": N_(
            "The line item has no URL and cannot be found or created (no lineitems URL or scope)."
        ),
        "service_url_refused": N_(
            "A service URL is not on the platform's registered hosts: nothing was sent (permanent)."
        ),
        # -- the sentences of raise sites
        "token_request_refused": N_("token request to %(url)s refused: %(detail)s"),
        "request_failed": N_("%(method)s %(url)s failed: %(detail)s"),
        "request_timed_out": N_("%(method)s %(url)s timed out"),
        "more_than_pages_looping_next": N_("%(what)s: more than %(MAX_PAGES)s pages (looping next links?)"),
        "platform_answered": N_("%(what)s: platform answered %(status_code)s: %(message)s"),
        "create_line_item_answer_line": N_("create line item: the answer has no line item id"),
        "launch_gave_neither_lineitem_nor": N_(
            "the launch gave neither a lineitem nor a lineitems URL; ask the academy admin to enable grade "
            "sync (Services → IMS LTI Assignment and Grade Services)"
        ),
        "platform_answer_json": N_("%(what)s: the platform's answer is not JSON"),
        "expected_json_array": N_("%(what)s: expected a JSON array"),
        "platform_registered_under": N_("no platform registered under %(platform_key)s"),
        "outbox_item_cannot_go_from": N_("outbox item cannot go from %(old)s to %(new)s"),
        "must_timezone_aware_got_naive": N_("%(name)s must be timezone-aware (got naive %(isoformat)s)"),
        "score_scaled_must_finite_number": N_("score_scaled must be a finite number, got %(value)s"),
        "score_scaled_must_lie_got": N_("score_scaled must lie in -1..1, got %(value)s"),
        "user_id_lti_sub_must": N_("user_id (the LTI sub) must not be empty"),
        "outcome_changed_score_needs_timestamp": N_("the outcome has no changed_at: the Score needs its timestamp"),
        "score_maximum_must_positive_number": N_("score_maximum must be a positive number, got %(maximum)s"),
        "did_return_access_token": N_("%(where)s did not return an access_token"),
        "returned_invalid_expires": N_("%(where)s returned an invalid expires_in"),
        "signing_key_needs_kid_id": N_("the signing key needs a kid (its id in the tool's JWKS)"),
        "tool_signing_key_must_rsa": N_("the tool's signing key must be an RSA key of at least 2048 bits"),
        "did_answer_time": N_("%(where)s did not answer in time"),
        "could_reached": N_("%(where)s could not be reached: %(detail)s"),
        "tool_signing_key_readable_pem": N_(
            "the tool's signing key is not a readable PEM private key; run `cbsi-connect keys generate`"
        ),
    }
)
"""Sentence key -> English sentence (the gettext message id)."""


def plain_params(params: Params | None) -> dict[str, str | int]:
    """``params`` as JSON-ready values (a string or an integer each)."""
    return {k: v if isinstance(v, str | int) else str(v) for k, v in (params or {}).items()}


def english(key: str, params: Params | None = None) -> str:
    """The English sentence of ``key`` with ``params`` filled in (CLI, logs, ``message``)."""
    sentence = MESSAGES[key]
    return sentence % dict(params) if params else sentence
