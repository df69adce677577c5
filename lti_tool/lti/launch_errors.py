"""The id_token validation errors: one class per failure kind, each with a stable ``code``.

Raised by the steps of :mod:`lti_tool.lti.validation` (which re-exports every name here).
"""

from __future__ import annotations

from lti_tool.lti.errors import AuthenticationFailed, LaunchRejected, TenantRefused


class NotAJwt(LaunchRejected):
    """The LMS did not send a valid LTI 1.3 token. Open the activity again from your course."""

    code = "not_a_jwt"


class UnsupportedAlgorithm(AuthenticationFailed):
    """The launch token is not signed with RS256, the only algorithm LTI 1.3 allows."""

    code = "unsupported_alg"


class MissingKid(AuthenticationFailed):
    """The launch token's header has no 'kid': the LMS must name the key it signed with."""

    code = "missing_kid"


class UnknownState(AuthenticationFailed):
    """This launch does not match a login started here (or it expired). Open the activity again from your course."""

    code = "unknown_state"


class StateExpired(AuthenticationFailed):
    """The launch took too long to complete. Open the activity again from your course."""

    code = "state_expired"


class LaunchReplayed(AuthenticationFailed):
    """This launch was used already. Open the activity again from your course (do not reload or go back)."""

    code = "launch_replayed"


class MissingIssuer(LaunchRejected):
    """The launch token has no issuer ('iss')."""

    code = "missing_iss"


class UnknownIssuer(TenantRefused):
    """This LMS is not registered with CBSI-Connect. Ask your LMS administrator to register the tool."""

    code = "unknown_issuer"


class IssuerMismatch(AuthenticationFailed):
    """The launch token comes from a different LMS than the login. Open the activity again."""

    code = "issuer_mismatch"


class MissingAudience(LaunchRejected):
    """The launch token has no audience ('aud')."""

    code = "missing_aud"


class WrongAudience(AuthenticationFailed):
    """The launch token is not addressed to this tool's client id."""

    code = "wrong_audience"


class UntrustedAudience(AuthenticationFailed):
    """The launch token is also addressed to parties this tool does not trust."""

    code = "untrusted_audience"


class MissingAzp(AuthenticationFailed):
    """The launch token has several audiences but no authorized party ('azp')."""

    code = "missing_azp"


class AzpMismatch(AuthenticationFailed):
    """The launch token's authorized party ('azp') is not this tool's client id."""

    code = "azp_mismatch"


class PlatformPending(TenantRefused):
    """Your LMS's registration is waiting for the CBSI-Connect operator's approval."""

    code = "platform_pending"


class PlatformDisabled(TenantRefused):
    """Your LMS's access to CBSI-Connect is disabled. Contact the CBSI-Connect operator."""

    code = "platform_disabled"


class BadSignature(AuthenticationFailed):
    """The launch token's signature does not verify with the LMS's published keys."""

    code = "bad_signature"


class MissingExp(LaunchRejected):
    """The launch token has no expiry ('exp')."""

    code = "missing_exp"


class MissingIat(LaunchRejected):
    """The launch token has no issue time ('iat')."""

    code = "missing_iat"


class TokenExpired(AuthenticationFailed):
    """The launch expired before it arrived. Open the activity again; if it repeats, check the LMS server's clock."""

    code = "token_expired"


class IssuedInFuture(AuthenticationFailed):
    """The launch token is dated in the future: the LMS server's clock is probably wrong. Tell your LMS admin."""

    code = "iat_in_future"


class NotYetValid(AuthenticationFailed):
    """The launch token is not valid yet ('nbf'). The LMS server's clock is probably wrong."""

    code = "not_yet_valid"


class MissingNonce(AuthenticationFailed):
    """The launch token has no nonce."""

    code = "missing_nonce"


class NonceMismatch(AuthenticationFailed):
    """The launch token's nonce does not belong to this login. Open the activity again."""

    code = "nonce_mismatch"


class MissingVersion(LaunchRejected):
    """The launch token has no LTI version claim; CBSI-Connect needs LTI 1.3.0."""

    code = "missing_version"


class WrongVersion(LaunchRejected):
    """The launch token is not an LTI 1.3.0 message."""

    code = "wrong_version"


class MissingDeploymentId(LaunchRejected):
    """The launch token has no deployment_id claim."""

    code = "missing_deployment_id"


class UnknownDeployment(TenantRefused):
    """This LMS deployment is not registered with CBSI-Connect."""

    code = "unknown_deployment"


class MissingMessageType(LaunchRejected):
    """The launch token has no message_type claim."""

    code = "missing_message_type"


class UnsupportedMessageType(LaunchRejected):
    """CBSI-Connect does not support this kind of LTI message."""

    code = "unsupported_message_type"


class MissingResourceLinkId(LaunchRejected):
    """The launch has no resource link id: the LMS must say which activity is opened."""

    code = "missing_resource_link_id"


class MissingRoles(LaunchRejected):
    """The launch has no roles claim."""

    code = "missing_roles"


class InvalidRoles(LaunchRejected):
    """The launch's roles claim is not a list of role names."""

    code = "invalid_roles"


class MissingSub(LaunchRejected):
    """The launch does not identify the user ('sub'); CBSI-Connect needs it to keep your progress."""

    code = "missing_sub"


class MissingDeepLinkingSettings(LaunchRejected):
    """The deep linking request has no deep_linking_settings with a deep_link_return_url."""

    code = "missing_deep_linking_settings"


class MissingTargetLinkUri(LaunchRejected):
    """The launch token has no target_link_uri claim."""

    code = "missing_target_link_uri"


class TargetLinkUriMismatch(AuthenticationFailed):
    """The launch's target_link_uri differs from the login's. Open the activity again from your course."""

    code = "target_link_uri_mismatch"
