"""The message catalogue: every sentence a person reads, keyed by a stable code.

Errors carry a ``code`` and ``params`` (see :class:`lti_tool.errors.AppError`); the words are
looked up here at the moment they are shown: by the web layer in the request's language
(``lti_tool.web.i18n``, through the gettext catalogues under ``lti_tool/translations/``), by the
CLI in English (:func:`english`). The English sentence is the gettext message id, so a sentence
changed here must be changed in the ``.po`` files too (``tests/web/test_translations.py`` checks
that every catalogue has every message and the same placeholders).

Placeholders are ``%(name)s``, filled from the error's ``params``.

The ``scorm`` and ``sync`` packages keep their own catalogues beside their errors
(:mod:`scorm.messages`, :mod:`sync.messages`, and the learner's words of the sequencing engine in
:mod:`scorm.sequencing.messages`): they must not import ``lti_tool``. This module gathers them
(:data:`PACKAGE`, :data:`SYNC`, :data:`LEARNER_NAVIGATION`) so that the web layer has one place to
look every sentence up, and ``babel.cfg`` extracts all of them into the one gettext catalogue.

Framework-free: no Flask here (the CLI and the worker import it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scorm import messages as scorm_messages
from scorm.sequencing import messages as sequencing_messages
from sync import messages as sync_messages


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the gettext catalogues; returns it unchanged."""
    return message


ERRORS: Mapping[str, str] = MappingProxyType(
    {
        "not_found": N_("Nothing here."),
        "forbidden": N_("You are not allowed to do this."),
        "csrf_failed": N_("The form expired or did not come from this site: reload the page and try again."),
        "bad_request": N_("The request is not valid."),
        "lti_error": N_("The LTI request could not be accepted."),
        "launch_rejected": N_("This launch was refused. Go back to your course and open the activity again."),
        "launch_not_authenticated": N_(
            "The launch could not be authenticated. Go back to your course and open the activity again."
        ),
        "unknown_kid": N_(
            "The LMS signed with a key it does not publish. "
            "Open the activity again; if it persists, tell your LMS admin."
        ),
        "unsupported_alg": N_("The launch token is not signed with RS256, the only algorithm LTI 1.3 allows."),
        "missing_kid": N_("The launch token's header has no 'kid': the LMS must name the key it signed with."),
        "unknown_state": N_(
            "This launch does not match a login started here (or it expired). Open the activity again from your course."
        ),
        "state_expired": N_("The launch took too long to complete. Open the activity again from your course."),
        "launch_replayed": N_(
            "This launch was used already. Open the activity again from your course (do not reload or go back)."
        ),
        "issuer_mismatch": N_("The launch token comes from a different LMS than the login. Open the activity again."),
        "wrong_audience": N_("The launch token is not addressed to this tool's client id."),
        "untrusted_audience": N_("The launch token is also addressed to parties this tool does not trust."),
        "missing_azp": N_("The launch token has several audiences but no authorized party ('azp')."),
        "azp_mismatch": N_("The launch token's authorized party ('azp') is not this tool's client id."),
        "bad_signature": N_("The launch token's signature does not verify with the LMS's published keys."),
        "token_expired": N_(
            "The launch expired before it arrived. "
            "Open the activity again; if it repeats, check the LMS server's clock."
        ),
        "iat_in_future": N_(
            "The launch token is dated in the future: the LMS server's clock is probably wrong. Tell your LMS admin."
        ),
        "not_yet_valid": N_("The launch token is not valid yet ('nbf'). The LMS server's clock is probably wrong."),
        "missing_nonce": N_("The launch token has no nonce."),
        "nonce_mismatch": N_("The launch token's nonce does not belong to this login. Open the activity again."),
        "target_link_uri_mismatch": N_(
            "The launch's target_link_uri differs from the login's. Open the activity again from your course."
        ),
        "tenant_refused": N_("Your LMS is not allowed to launch this tool yet. Ask your LMS administrator."),
        "unknown_issuer": N_(
            "This LMS is not registered with CBSI-Connect. Ask your LMS administrator to register the tool."
        ),
        "platform_pending": N_("Your LMS's registration is waiting for the CBSI-Connect operator's approval."),
        "platform_disabled": N_("Your LMS's access to CBSI-Connect is disabled. Contact the CBSI-Connect operator."),
        "unknown_deployment": N_("This LMS deployment is not registered with CBSI-Connect."),
        "unknown_client_id": N_("This LMS registration (client_id) is not known to CBSI-Connect."),
        "jwks_unavailable": N_(
            "The LMS's public keys could not be fetched. Try again in a minute; if it persists, tell your LMS admin."
        ),
        "not_a_jwt": N_("The LMS did not send a valid LTI 1.3 token. Open the activity again from your course."),
        "missing_iss": N_("The launch token has no issuer ('iss')."),
        "missing_aud": N_("The launch token has no audience ('aud')."),
        "missing_exp": N_("The launch token has no expiry ('exp')."),
        "missing_iat": N_("The launch token has no issue time ('iat')."),
        "missing_version": N_("The launch token has no LTI version claim; CBSI-Connect needs LTI 1.3.0."),
        "wrong_version": N_("The launch token is not an LTI 1.3.0 message."),
        "missing_deployment_id": N_("The launch token has no deployment_id claim."),
        "missing_message_type": N_("The launch token has no message_type claim."),
        "unsupported_message_type": N_("CBSI-Connect does not support this kind of LTI message."),
        "missing_resource_link_id": N_(
            "The launch has no resource link id: the LMS must say which activity is opened."
        ),
        "missing_roles": N_("The launch has no roles claim."),
        "invalid_roles": N_("The launch's roles claim is not a list of role names."),
        "missing_sub": N_(
            "The launch does not identify the user ('sub'); CBSI-Connect needs it to keep your progress."
        ),
        "missing_deep_linking_settings": N_(
            "The deep linking request has no deep_linking_settings with a deep_link_return_url."
        ),
        "missing_target_link_uri": N_("The launch token has no target_link_uri claim."),
        "missing_launch_parameter": N_(
            "The LMS did not send an id_token and state. Open the activity again from your course."
        ),
        "platform_auth_error": N_("The LMS refused to authenticate you for this tool."),
        "login_rejected": N_("The LMS's login request is incomplete or names an unknown platform."),
        "missing_login_parameter": N_("The LMS's login request misses a required parameter."),
        "invalid_target_link_uri": N_("The LMS asked to open a link that is not part of this tool."),
        "ambiguous_client_id": N_("The LMS did not say which registration (client_id) to use, and it has several."),
        "launch_session_invalid": N_(
            "Your session for this activity has ended. Go back to your course and open the activity again."
        ),
        "service_token_error": N_("The platform did not give us a service token."),
        "token_endpoint_unreachable": N_("The platform's token endpoint did not answer."),
        "token_request_refused": N_("The platform refused to issue a service token."),
        "token_response_invalid": N_(
            "The platform's token endpoint answered with something that is not a token response."
        ),
        "service_url_refused": N_(
            "A service URL from a launch is not on the platform's registered hosts; no token was sent."
        ),
        "registration_error": N_("Dynamic registration failed."),
        "registration_parameter_missing": N_(
            "Start the registration from your LMS: the openid_configuration parameter is missing."
        ),
        "configuration_unreachable": N_("The LMS's OpenID configuration could not be fetched."),
        "configuration_invalid": N_("The LMS's OpenID configuration is not usable."),
        "issuer_not_https": N_("The LMS's issuer must be an https URL (or be listed in lti.insecure_issuers)."),
        "host_refused": N_("The LMS's address is an internal network address."),
        "registration_refused": N_("The LMS refused the tool registration."),
        "registration_response_invalid": N_("The LMS accepted the registration but its answer lacks the client id."),
        "content_forbidden": N_("This content link is not valid for you: relaunch the course from your LMS."),
        "content_link_expired": N_("This content link has expired: relaunch the course from your LMS."),
        "content_not_found": N_("No such file in this course package."),
        "deep_linking_error": N_("The deep linking request cannot be answered."),
        "deep_linking_forbidden": N_("Only instructors and administrators can add catalogue courses."),
        "deep_linking_unsupported": N_("The LMS cannot accept what this tool offers."),
        "picker_token_invalid": N_(
            "This course picker has expired or was not opened from your LMS: add the activity again."
        ),
        "selection_invalid": N_("The selection is not valid."),
        "nrps_error": N_("The course roster could not be read from the LMS."),
        "nrps_not_available": N_("This launch carries no Names and Role service: enable it for the tool in the LMS."),
        "nrps_request_failed": N_("The LMS refused or failed the roster request."),
        "nrps_response_invalid": N_("The LMS answered with something that is not a membership container."),
        "rate_limited": N_("Too many requests from your address: wait a moment and try again."),
        "service_busy": N_("The service is busy: try again in a moment."),
        "runtime_error": N_("The course cannot be played right now."),
        "course_not_linked": N_(
            "This activity is not linked to a catalogue course: ask your instructor to re-add it with 'Select content'."
        ),
        "course_unavailable": N_("The catalogue course behind this activity no longer exists: tell your instructor."),
        "standard_not_playable": N_("This course's format cannot be played in the player yet."),
        "attempt_limit_reached": N_("You have used every attempt this activity allows."),
        "attempt_not_found": N_("This attempt does not exist: relaunch the course from your LMS."),
        "item_not_found": N_("This part of the course does not exist in your attempt's version."),
        "runtime_token_refused": N_(
            "Your session for this course has ended or is not valid: relaunch the course from your LMS."
        ),
        "forbidden_attempt": N_("This session belongs to another attempt."),
        "stale_seq": N_("commit sequence number already used; next expected is %(expected_seq)s"),
        "invalid_commit": N_("The commit is not a valid runtime commit."),
        "attempt_closed": N_("This attempt is finished; relaunch the course from your LMS to start a new one."),
        "invalid_json": N_("The request body is not a JSON object this service accepts."),
        "metrics_forbidden": N_("Metrics are not available to this client."),
        "platform_access_disabled": N_(
            "Your academy's access to these courses is switched off. Contact your academy (your LMS administrator)."
        ),
        "roster_url_refused": N_(
            "The launch's roster URL is not on the LMS's registered hosts; the roster was not requested."
        ),
        "registration_issuer_mismatch": N_(
            "The LMS's issuer does not belong to the host that served its configuration."
        ),
        "unsupported_alg_named": N_("The launch token is signed with %(alg)s; LTI 1.3 requires RS256."),
        "platform_disabled_named": N_(
            "Your LMS's access (%(name)s) to CBSI-Connect is disabled. Contact the CBSI-Connect operator."
        ),
        "wrong_version_named": N_("The launch token says LTI version %(version)s; CBSI-Connect needs 1.3.0."),
        "unsupported_message_type_named": N_("CBSI-Connect does not support LTI messages of type %(type)s."),
        "missing_login_parameter_named": N_("The LMS's login request has no '%(name)s' parameter."),
        "error": N_("The request could not be completed."),
        "unauthorized": N_("You are not signed in for this page."),
        "method_not_allowed": N_("This address does not accept this kind of request."),
        "payload_too_large": N_("The request body is larger than this service accepts."),
        "unsupported_media_type": N_("This service does not accept the format of the request body."),
        "too_many_requests": N_("Too many requests: wait a moment and try again."),
        "http_error": N_("The request could not be completed."),
        "internal_error": N_(
            "Something went wrong on our side; the operator can find it in the logs by its incident id."
        ),
        "database_unavailable": N_("The service's database is unavailable; try again shortly."),
        # operator preview (lti_tool.preview)
        "preview_refused": N_("This preview cannot be made."),
        "preview_course_not_found": N_("There is no catalogue course %(course)s to preview."),
        "preview_au_not_found": N_("This course has no AU %(au)s to preview."),
        "preview_learner_invalid": N_("The preview learner's name is too long or has control characters."),
        "preview_version_invalid": N_("The version to preview must be a whole number."),
        "preview_link_invalid": N_("This preview link is not valid. Make a new one in the console or with the CLI."),
        "preview_link_expired": N_("This preview link has expired. Make a new one in the console or with the CLI."),
        "preview_link_used": N_("This preview link was opened already: each link opens once. Make a new one."),
        "no_file": N_("choose a package file to upload"),
    }
)
"""Error code -> English sentence (the gettext message id)."""

DELIVERY: Mapping[str, str] = MappingProxyType(
    {
        "delivered": N_("Sent %(score)s"),
        "delivered_on": N_("Sent %(score)s on %(when)s"),
        "pending": N_("Waiting to send %(score)s"),
        "retrying": N_("Waiting to send %(score)s (retrying)"),
        "superseded": N_("Up to date in the gradebook"),
        "dead": N_("Not accepted by the LMS: %(error)s"),
        "progress_only": N_("progress only"),
    }
)
"""What reached the gradebook (``lti_tool.grades.delivery_state`` codes) -> English sentence."""

PLAYER: Mapping[str, str] = MappingProxyType(
    {
        "saving": N_("Saving…"),
        "saved": N_("All progress saved"),
        "offline": N_("Connection lost: your progress is kept here and will be sent when it returns"),
        "auth": N_("Your session has expired: progress is kept in this browser; relaunch from your course to send it"),
        "rejected": N_("Some data was refused by the server"),
        "no_runtime_title": N_("This part cannot be opened"),
        "no_runtime_text": N_(
            "The server sent no runtime for it. Your progress so far is saved; try again from your course."
        ),
        "course_content": N_("Course content"),
        "nothing_more": N_("Nothing more to show here"),
        "choose_item": N_("Choose an item from the table of contents, or use Exit."),
        "nav_failed_title": N_("Could not open the next part"),
        "nav_failed_text": N_("Your progress is saved. Try again, or use Exit."),
        "server_answered": N_("The server answered %(status)s."),
        "progress_saving": N_("Your progress is being saved"),
        "progress_saved": N_("Your progress has been saved"),
        "pending_warning": N_(
            "Some progress could not be sent yet (no connection). Keep this page open: it is sent as soon as "
            "the connection returns. It is also kept in this browser."
        ),
        "all_saved": N_("Everything is saved now."),
        "return_to_course": N_("Return to the course"),
        "your_courses": N_("Your courses in this LMS course"),
        "close_window": N_("Close this window"),
        "close_or_return": N_("You can close this window, or return to your course."),
        "nothing_to_show": N_("Nothing to show"),
        "no_content": N_("This course has no launchable content."),
    }
)
"""The player's own words (``static/player/player.js``), by key: the page embeds them translated."""


NAVIGATION: Mapping[str, str] = MappingProxyType(
    {
        "nav_invalid_request": N_("that navigation request is not valid"),
        "nav_invalid_target": N_("That part of the course cannot be opened."),
        "nav_unavailable": N_("This course has no navigation."),
    }
)
"""The player's navigation refusals that the runtime (not the sequencing engine) decides, by error code."""

PACKAGE: Mapping[str, str] = scorm_messages.MESSAGES
"""Package refusals and warnings and sequencing errors (:mod:`scorm.messages`): key -> English sentence."""

PACKAGE_TERMS: frozenset[str] = scorm_messages.TERMS
"""Words a package refusal passes as a param (translated before they are filled in)."""

SYNC: Mapping[str, str] = sync_messages.MESSAGES
"""Grade-delivery errors (:mod:`sync.messages`): key -> English sentence."""

LEARNER_NAVIGATION: frozenset[str] = frozenset(
    {
        *sequencing_messages.LEARNER_MESSAGES.values(),
        sequencing_messages.END_MESSAGE,
        sequencing_messages.NOTHING_TO_DELIVER,
        sequencing_messages.NOT_POSSIBLE,
        *NAVIGATION.values(),
    }
)
"""Every sentence a navigation answer may carry to a learner (the English is the gettext message id)."""


def english(table: Mapping[str, str], key: str, params: Mapping[str, object] | None = None) -> str:
    """The English sentence of ``key`` in ``table`` with ``params`` filled in (the CLI's rendering)."""
    sentence = table[key]
    return sentence % dict(params) if params else sentence
