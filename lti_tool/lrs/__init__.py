"""The built-in LRS (xAPI 1.0.3 and 2.0.0) under ``/xapi/``.

A package of its own rather than one module in ``lti_tool/web``: the LRS has its own storage
layer (``store``), credentials that launches mint with a plain call (``credentials``), multipart
and JWS handling (``multipart``) and the blueprint (``web``); statement rules live in ``scorm.xapi``.
"""

from __future__ import annotations

from lti_tool.lrs.credentials import (
    Credential,
    CredentialError,
    IssuedCredential,
    authenticate,
    create_operator_credential,
    list_credentials,
    mint_launch_credential,
    revoke_credential,
)

__all__ = [
    "Credential",
    "CredentialError",
    "IssuedCredential",
    "authenticate",
    "create_operator_credential",
    "list_credentials",
    "mint_launch_credential",
    "revoke_credential",
]
