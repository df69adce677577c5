"""Statements and documents the tool itself records in its LRS (cmi5's LMS statements, LaunchData).

The same validation, normalisation and ``stored``/``authority``/``version`` assignment a statement
posted to ``/xapi/statements`` gets; the authority is the tool (an account on ``{base}/xapi``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.lrs import documents_store, store
from lti_tool.lrs.documents_store import DocKey
from lti_tool.lrs.store import iso
from scorm.xapi import normalize_statement, validate_statement

TOOL_AUTHORITY_NAME = "cbsi-connect"


def tool_authority(base_url: str) -> dict[str, Any]:
    """The authority of the statements the tool records itself."""
    return {
        "objectType": "Agent",
        "name": TOOL_AUTHORITY_NAME,
        "account": {"homePage": f"{base_url.rstrip('/')}/xapi", "name": TOOL_AUTHORITY_NAME},
    }


def record_statements(
    session: Session, tenant: str, statements: Sequence[Mapping[str, Any]], *, base_url: str, now: datetime
) -> list[str]:
    """Validate and store statements the tool makes, in the caller's transaction; their ids."""
    batch = []
    for raw in statements:
        statement = json.loads(json.dumps(raw))
        validate_statement(statement, "2.0.0")
        st = normalize_statement(statement)
        st["id"] = st["id"].lower()
        st["stored"] = iso(now)
        timestamp_assigned = "timestamp" not in st
        st.setdefault("timestamp", st["stored"])
        st["authority"] = tool_authority(base_url)
        st.setdefault("version", "2.0.0")
        batch.append(store.NewStatement(statement=st, attachment_hashes=[], timestamp_assigned=timestamp_assigned))
    return store.insert_statements(session, tenant, batch, credential_id=None, stored=now)


#: The cmi5 learner preferences agent profile (cmi5 §11): written by the LMS before each launch.
CMI5_LEARNER_PREFERENCES = "cmi5LearnerPreferences"


def put_agent_profile(
    session: Session, tenant: str, *, agent_key: str, profile_id: str, document: Mapping[str, Any], now: datetime
) -> None:
    """Write one JSON Agent Profile document (e.g. cmi5's ``cmi5LearnerPreferences``)."""
    content = store.dumps(dict(document)).encode()
    documents_store.put_document(
        session, tenant, DocKey("agent_profile", agent_key=agent_key), profile_id, content, "application/json", now
    )


def put_state(
    session: Session,
    tenant: str,
    *,
    activity_id: str,
    agent_key: str,
    registration: str,
    state_id: str,
    document: Mapping[str, Any],
    now: datetime,
) -> None:
    """Write one JSON State API document (e.g. cmi5's ``LMS.LaunchData``)."""
    key = DocKey("state", activity_id=activity_id, agent_key=agent_key, registration=registration)
    content = store.dumps(dict(document)).encode()
    documents_store.put_document(session, tenant, key, state_id, content, "application/json", now)
