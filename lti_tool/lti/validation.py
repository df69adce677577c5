"""Hardened id_token validation: an ordered, visible list of named steps.

Each step is a pure function ``LaunchCheck -> LaunchCheck`` that either returns the check
(possibly enriched, via ``dataclasses.replace``) or raises its own :class:`LaunchRejected`
subclass with a stable ``code``. :data:`STEPS` is the order; :func:`validate_launch` runs it.

References: LTI Core 1.3 §5 (message claims), 1EdTech Security Framework 1.0 §5.1.3
(authentication response validation), OpenID Connect Core 1.0 §3.1.3.7 (ID token validation).
The single-use consumption of the nonce is done by storage (``lti_tool.lti.launches``), after
these steps pass, with an atomic ``UPDATE ... WHERE used_at IS NULL``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from jwt.algorithms import RSAAlgorithm

from lti_tool.lti.launch_errors import (  # re-exported: callers import them from here
    AzpMismatch as AzpMismatch,
)
from lti_tool.lti.launch_errors import (
    BadSignature as BadSignature,
)
from lti_tool.lti.launch_errors import (
    InvalidRoles as InvalidRoles,
)
from lti_tool.lti.launch_errors import (
    IssuedInFuture as IssuedInFuture,
)
from lti_tool.lti.launch_errors import (
    IssuerMismatch as IssuerMismatch,
)
from lti_tool.lti.launch_errors import (
    LaunchReplayed as LaunchReplayed,
)
from lti_tool.lti.launch_errors import (
    MissingAudience as MissingAudience,
)
from lti_tool.lti.launch_errors import (
    MissingAzp as MissingAzp,
)
from lti_tool.lti.launch_errors import (
    MissingDeepLinkingSettings as MissingDeepLinkingSettings,
)
from lti_tool.lti.launch_errors import (
    MissingDeploymentId as MissingDeploymentId,
)
from lti_tool.lti.launch_errors import (
    MissingExp as MissingExp,
)
from lti_tool.lti.launch_errors import (
    MissingIat as MissingIat,
)
from lti_tool.lti.launch_errors import (
    MissingIssuer as MissingIssuer,
)
from lti_tool.lti.launch_errors import (
    MissingKid as MissingKid,
)
from lti_tool.lti.launch_errors import (
    MissingMessageType as MissingMessageType,
)
from lti_tool.lti.launch_errors import (
    MissingNonce as MissingNonce,
)
from lti_tool.lti.launch_errors import (
    MissingResourceLinkId as MissingResourceLinkId,
)
from lti_tool.lti.launch_errors import (
    MissingRoles as MissingRoles,
)
from lti_tool.lti.launch_errors import (
    MissingSub as MissingSub,
)
from lti_tool.lti.launch_errors import (
    MissingTargetLinkUri as MissingTargetLinkUri,
)
from lti_tool.lti.launch_errors import (
    MissingVersion as MissingVersion,
)
from lti_tool.lti.launch_errors import (
    NonceMismatch as NonceMismatch,
)
from lti_tool.lti.launch_errors import (
    NotAJwt as NotAJwt,
)
from lti_tool.lti.launch_errors import (
    NotYetValid as NotYetValid,
)
from lti_tool.lti.launch_errors import (
    PlatformDisabled as PlatformDisabled,
)
from lti_tool.lti.launch_errors import (
    PlatformPending as PlatformPending,
)
from lti_tool.lti.launch_errors import (
    StateExpired as StateExpired,
)
from lti_tool.lti.launch_errors import (
    TargetLinkUriMismatch as TargetLinkUriMismatch,
)
from lti_tool.lti.launch_errors import (
    TokenExpired as TokenExpired,
)
from lti_tool.lti.launch_errors import (
    UnknownDeployment as UnknownDeployment,
)
from lti_tool.lti.launch_errors import (
    UnknownIssuer as UnknownIssuer,
)
from lti_tool.lti.launch_errors import (
    UnknownState as UnknownState,
)
from lti_tool.lti.launch_errors import (
    UnsupportedAlgorithm as UnsupportedAlgorithm,
)
from lti_tool.lti.launch_errors import (
    UnsupportedMessageType as UnsupportedMessageType,
)
from lti_tool.lti.launch_errors import (
    UntrustedAudience as UntrustedAudience,
)
from lti_tool.lti.launch_errors import (
    WrongAudience as WrongAudience,
)
from lti_tool.lti.launch_errors import (
    WrongVersion as WrongVersion,
)
from lti_tool.lti.platforms import PlatformInfo
from sync.lti_claims import (
    CLAIM_DEPLOYMENT_ID,
    CLAIM_MESSAGE_TYPE,
    CLAIM_RESOURCE_LINK,
    CLAIM_ROLES,
    CLAIM_TARGET_LINK_URI,
    CLAIM_VERSION,
    DL_CLAIM_SETTINGS,
    LTI_VERSION,
    MESSAGE_DEEP_LINKING_REQUEST,
    MESSAGE_RESOURCE_LINK,
)

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256",)  # Security Framework §5.1.3 step 3 / §6.1: RSA-SHA256 only
_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)


# -- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LoginRecord:
    """What ``/lti/login`` stored server side for one state."""

    state: str
    nonce: str
    issuer: str
    client_id: str | None
    target_link_uri: str
    expires_at: datetime
    used_at: datetime | None = None


KeyLookup = Callable[[str, str], Any]
"""``(key_set_url, kid) -> public key``; raises ``UnknownKid`` / ``JwksUnavailable``."""

PlatformLookup = Callable[[str], tuple[PlatformInfo, ...]]
"""``issuer -> registrations`` of that issuer (any status)."""


@dataclass(frozen=True, kw_only=True)
class LaunchCheck:
    """The state of one validation run; steps fill ``header``, ``claims`` and ``platform``."""

    id_token: str
    login: LoginRecord | None
    lookup_platforms: PlatformLookup
    key_for: KeyLookup
    now: datetime
    leeway_seconds: int
    supported_message_types: frozenset[str]
    header: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict)
    registrations: tuple[PlatformInfo, ...] = ()
    platform: PlatformInfo | None = None

    @property
    def ts(self) -> float:
        """``now`` as a POSIX timestamp."""
        return self.now.timestamp()


@dataclass(frozen=True, kw_only=True)
class ValidatedToken:
    """The outcome of a successful validation."""

    platform: PlatformInfo
    claims: Mapping[str, Any]
    deployment_id: str
    message_type: str


# -- steps ------------------------------------------------------------------------------------


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def check_login_state(c: LaunchCheck) -> LaunchCheck:
    """The ``state`` names a login started here, not used and not expired (Security Framework §5.1.1.5)."""
    if c.login is None:
        raise UnknownState()
    if c.login.used_at is not None:
        raise LaunchReplayed()
    if c.now >= c.login.expires_at:
        raise StateExpired()
    return c


def check_jwt_format(c: LaunchCheck) -> LaunchCheck:
    """A compact JWS: three base64url parts, header and payload JSON objects (RFC 7515 §7.1)."""
    parts = c.id_token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise NotAJwt("the LMS did not send a valid LTI 1.3 token (expected a JWT with 3 parts)")
    try:
        header, claims = _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as exc:  # deep nesting: hostile
        raise NotAJwt("the LMS did not send a valid LTI 1.3 token (its parts are not base64url JSON)") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise NotAJwt("the LMS did not send a valid LTI 1.3 token (header and payload must be JSON objects)")
    return replace(c, header=header, claims=claims)


def check_header(c: LaunchCheck) -> LaunchCheck:
    """``alg`` is RS256 (never ``none`` nor HMAC) and ``kid`` is present (Security Framework §6.1, §6.3)."""
    alg = c.header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise UnsupportedAlgorithm(message_key="unsupported_alg_named", params={"alg": str(alg)[:40]})
    kid = c.header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MissingKid()
    return c


def check_issuer(c: LaunchCheck) -> LaunchCheck:
    """``iss`` equals the login's issuer exactly and is a registered platform (OIDC Core §3.1.3.7 step 2)."""
    iss = c.claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise MissingIssuer()
    if c.login is not None and iss != c.login.issuer:
        raise IssuerMismatch()
    registrations = c.lookup_platforms(iss)
    if not registrations:
        raise UnknownIssuer(
            f"the LMS {iss} is not registered with CBSI-Connect; its administrator must register the tool "
            "(Dynamic Registration or 'cbsi-connect platforms add')"
        )
    return replace(c, registrations=registrations)


def check_audience(c: LaunchCheck) -> LaunchCheck:
    """``aud`` holds our client id; extra audiences must be trusted; ``azp`` required with several
    audiences and equal to the client id when present (OIDC Core §3.1.3.7 steps 3-5)."""
    aud = c.claims.get("aud")
    if isinstance(aud, str):
        audiences = [aud]
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        audiences = list(aud)
    else:
        raise MissingAudience()
    azp = c.claims.get("azp")
    known = {r.client_id: r for r in c.registrations}
    if c.login is not None and c.login.client_id:
        client_id: str | None = c.login.client_id
    elif isinstance(azp, str):
        client_id = azp
    else:
        client_id = audiences[0] if len(audiences) == 1 else None
    if client_id is None or client_id not in audiences or client_id not in known:
        raise WrongAudience()
    if set(audiences) - set(known):
        raise UntrustedAudience()
    if len(audiences) > 1 and azp is None:
        raise MissingAzp()
    if azp is not None and azp != client_id:
        raise AzpMismatch()
    return replace(c, platform=known[client_id])


def check_platform_status(c: LaunchCheck) -> LaunchCheck:
    """The registration is active: pending and disabled platforms cannot launch (DESIGN.md §7)."""
    p = _platform(c)
    if p.status == "pending":
        raise PlatformPending(
            f"your LMS's registration ({p.name}) is waiting for approval by the CBSI-Connect operator "
            f"('cbsi-connect platforms approve {p.id}')"
        )
    if p.status != "active":
        raise PlatformDisabled(message_key="platform_disabled_named", params={"name": p.name})
    return c


def check_signature(c: LaunchCheck) -> LaunchCheck:
    """The signature verifies with the platform's published key ``kid`` (Security Framework §5.1.3 step 1)."""
    p = _platform(c)
    key = c.key_for(p.key_set_url, str(c.header["kid"]))
    signing_input, _, signature = c.id_token.rpartition(".")
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, binascii.Error) as exc:
        raise BadSignature() from exc
    # The header and payload were decoded by check_jwt_format; PyJWT's RS256 primitive checks the
    # signature over the exact received bytes (no second parse of the token).
    if not _RS256.verify(signing_input.encode("ascii"), key, raw):
        raise BadSignature()
    return c


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_times(c: LaunchCheck) -> LaunchCheck:
    """``exp`` in the future and ``iat`` not in the future, both within the configured leeway
    (OIDC Core §3.1.3.7 steps 9-10; leeway ``lti.clock_leeway_seconds``)."""
    exp, iat = _number(c.claims.get("exp")), _number(c.claims.get("iat"))
    if exp is None:
        raise MissingExp()
    if iat is None:
        raise MissingIat()
    now, leeway = c.ts, c.leeway_seconds
    if now > exp + leeway:
        raise TokenExpired()
    if iat > now + leeway:
        raise IssuedInFuture()
    nbf = _number(c.claims.get("nbf"))
    if nbf is not None and nbf > now + leeway:
        raise NotYetValid()
    return c


def check_nonce(c: LaunchCheck) -> LaunchCheck:
    """``nonce`` equals the one sent by this login (OIDC Core §3.1.3.7 step 11); single use is
    enforced by the atomic consumption in storage."""
    nonce = c.claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise MissingNonce()
    if c.login is None or nonce != c.login.nonce:
        raise NonceMismatch()
    return c


def check_version(c: LaunchCheck) -> LaunchCheck:
    """``version`` is "1.3.0" (LTI Core §5.3.2)."""
    version = c.claims.get(CLAIM_VERSION)
    if version is None:
        raise MissingVersion()
    if version != LTI_VERSION:
        raise WrongVersion(message_key="wrong_version_named", params={"version": str(version)[:40]})
    return c


def check_deployment(c: LaunchCheck) -> LaunchCheck:
    """``deployment_id`` is present and registered for this platform (LTI Core §5.3.3)."""
    deployment = c.claims.get(CLAIM_DEPLOYMENT_ID)
    if not isinstance(deployment, str) or not deployment:
        raise MissingDeploymentId()
    p = _platform(c)
    if deployment not in p.deployments:
        raise UnknownDeployment(
            f"the LMS deployment '{deployment}' is not registered with CBSI-Connect for {p.name}; "
            f"the operator can allow it with: cbsi-connect platforms add-deployment {p.id} {deployment}"
        )
    return c


def check_message_type(c: LaunchCheck) -> LaunchCheck:
    """``message_type`` is present and one this tool handles (LTI Core §5.3.1)."""
    message_type = c.claims.get(CLAIM_MESSAGE_TYPE)
    if not isinstance(message_type, str) or not message_type:
        raise MissingMessageType()
    if message_type not in c.supported_message_types:
        raise UnsupportedMessageType(message_key="unsupported_message_type_named", params={"type": message_type[:80]})
    return c


def _require_resource_link_id(c: LaunchCheck) -> None:
    link = c.claims.get(CLAIM_RESOURCE_LINK)
    if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
        raise MissingResourceLinkId()


def _require_roles(c: LaunchCheck) -> None:
    # An empty array is valid (LTI Core §5.3.4: anonymous or role-less users); unknown roles are kept.
    roles = c.claims.get(CLAIM_ROLES)
    if roles is None:
        raise MissingRoles()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidRoles()


def _require_sub(c: LaunchCheck) -> None:
    # SPEC COMPLIANCE NOTE: LTI Core 1.3 §5.3.6 lets a platform omit `sub` for an anonymous
    # launch. The 1EdTech certification suite treats a resource link launch without `sub` as
    # invalid, and CBSI-Connect needs a stable user id to keep a learner's attempt, so resource
    # link launches without `sub` are refused. Other message types (deep linking) may be anonymous.
    sub = c.claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise MissingSub()


def _require_dl_settings(c: LaunchCheck) -> None:
    settings = c.claims.get(DL_CLAIM_SETTINGS)
    if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
        raise MissingDeepLinkingSettings()


MESSAGE_RULES: Mapping[str, tuple[Callable[[LaunchCheck], None], ...]] = {
    # LTI Core §5.3 / §5.4: required claims of a resource link launch.
    MESSAGE_RESOURCE_LINK: (_require_resource_link_id, _require_roles, _require_sub),
    # Deep Linking 2.0 §4.4: the settings claim; roles as in any LTI message.
    MESSAGE_DEEP_LINKING_REQUEST: (_require_dl_settings, _require_roles),
}


def check_message_claims(c: LaunchCheck) -> LaunchCheck:
    """The claims required by the message type are present (table :data:`MESSAGE_RULES`)."""
    message_type = str(c.claims.get(CLAIM_MESSAGE_TYPE))
    for rule in MESSAGE_RULES.get(message_type, (_require_roles,)):
        rule(c)
    return c


def check_target_link_uri(c: LaunchCheck) -> LaunchCheck:
    """``target_link_uri`` equals the one the login announced (LTI Core §5.3.5, §4.1.1)."""
    target = c.claims.get(CLAIM_TARGET_LINK_URI)
    if not isinstance(target, str) or not target:
        raise MissingTargetLinkUri()
    if c.login is None or target != c.login.target_link_uri:
        raise TargetLinkUriMismatch()
    return c


def _platform(c: LaunchCheck) -> PlatformInfo:
    if c.platform is None:  # a step ran out of order: a programming error, reported as a rejection
        raise WrongAudience("the launch could not be matched to a registered platform")
    return c.platform


Step = Callable[[LaunchCheck], LaunchCheck]

STEPS: tuple[Step, ...] = (
    check_login_state,
    check_jwt_format,
    check_header,
    check_issuer,
    check_audience,
    check_platform_status,
    check_signature,
    check_times,
    check_nonce,
    check_version,
    check_deployment,
    check_message_type,
    check_message_claims,
    check_target_link_uri,
)


def validate_launch(check: LaunchCheck, steps: tuple[Step, ...] = STEPS) -> ValidatedToken:
    """Run the validation steps in order.

    Args:
        check: the token, the login it answers and the collaborators (lookups, clock value).
        steps: the steps to run (defaults to :data:`STEPS`).

    Returns:
        The validated token: platform, claims, deployment id, message type.

    Raises:
        LaunchRejected: a subclass per failure kind, with a stable ``code``.
    """
    for step in steps:
        check = step(check)
    platform = _platform(check)
    return ValidatedToken(
        platform=platform,
        claims=check.claims,
        deployment_id=str(check.claims[CLAIM_DEPLOYMENT_ID]),
        message_type=str(check.claims[CLAIM_MESSAGE_TYPE]),
    )
