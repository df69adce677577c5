"""LTI 1.3 and LTI Advantage names: claim URLs, service scopes, message types, media types.

The one place the tool spells them. ``sync`` (AGS) and ``lti_tool`` (launch validation, NRPS,
deep linking, dynamic registration) import them from here. The module lives in ``sync`` because
``sync`` is the innermost package that speaks LTI and must not import ``lti_tool``
(docs/ARCHITECTURE.md); it is constants only (no imports).
"""

from __future__ import annotations

# -- LTI Core 1.3 (§5) ---------------------------------------------------------------------------

#: Prefix of the core claims.
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = CLAIM + "message_type"
CLAIM_VERSION = CLAIM + "version"
CLAIM_DEPLOYMENT_ID = CLAIM + "deployment_id"
CLAIM_TARGET_LINK_URI = CLAIM + "target_link_uri"
CLAIM_RESOURCE_LINK = CLAIM + "resource_link"
CLAIM_ROLES = CLAIM + "roles"
CLAIM_CONTEXT = CLAIM + "context"
CLAIM_CUSTOM = CLAIM + "custom"
CLAIM_LAUNCH_PRESENTATION = CLAIM + "launch_presentation"

LTI_VERSION = "1.3.0"
MESSAGE_RESOURCE_LINK = "LtiResourceLinkRequest"
MESSAGE_DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"

#: LIS role vocabularies (LTI Core §A.2): context (membership), institution and system roles.
ROLE_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ROLE_INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
ROLE_SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
ROLE_PREFIXES = (ROLE_MEMBERSHIP, ROLE_INSTITUTION, ROLE_SYSTEM)

# -- Deep Linking 2.0 ----------------------------------------------------------------------------

#: Prefix of the deep linking claims.
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DL_CLAIM_SETTINGS = DL_CLAIM + "deep_linking_settings"
DL_CLAIM_CONTENT_ITEMS = DL_CLAIM + "content_items"
DL_CLAIM_DATA = DL_CLAIM + "data"
DL_CLAIM_MSG = DL_CLAIM + "msg"

# -- Assignment and Grade Services 2.0 ------------------------------------------------------------

AGS_CLAIM_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
#: One token for every AGS call: platforms drop scopes they do not grant (Moodle silently).
AGS_SCOPES: tuple[str, ...] = (
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
)
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULT_CONTAINER_MEDIA_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"

# -- Names and Role Provisioning Services 2.0 -----------------------------------------------------

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

#: Every scope the tool asks for when it registers (AGS and NRPS).
TOOL_SCOPES: tuple[str, ...] = (*AGS_SCOPES, SCOPE_NRPS)

# -- Dynamic Registration 1.0 --------------------------------------------------------------------

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
