"""xAPI's Statement Comparison Requirements (Data 2.3.1): is a resent statement the stored one?

Pure functions over statement JSON (no storage): :func:`same_statement` decides, and
:func:`differing_properties` names what differs for the 409's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scorm.xapi.formats import parse_timestamp, truncate_duration

# Properties the LRS assigns (xAPI Data 2.3.1, first exception); ``timestamp`` is compared on its own.
_IGNORED_IN_COMPARISON = ("stored", "authority", "version", "id", "timestamp")


def _comparable(statement: Mapping[str, Any]) -> Any:
    """The parts of a statement that xAPI's Statement Comparison Requirements compare (Data 2.3.1).

    Ignored, as the immutability exceptions allow: what the LRS assigns (id, authority, stored,
    version), the serialisation of timestamps (compared as instants), Activity definitions and verb
    displays (not part of the statement), the order of Group members, and the case of case-insensitive
    values (UUIDs, hex hashes, the domain of an mbox). ``result.duration`` is compared as a string, at
    the 0.01 s precision xAPI 2.0 lets an LRS keep.
    """
    body = _comparable_body(statement)
    sub = body.get("object")
    if isinstance(sub, dict) and sub.get("objectType") == "SubStatement":
        body["object"] = _comparable_body(sub)
    return body


def _comparable_body(statement: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: _case_folded(k, v) for k, v in statement.items() if k not in _IGNORED_IN_COMPARISON}
    verb = body.get("verb")
    if isinstance(verb, dict):
        body["verb"] = {k: v for k, v in verb.items() if k != "display"}
    obj = body.get("object")
    if isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity":
        body["object"] = {k: v for k, v in obj.items() if k != "definition"}
    context = body.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        ca = context["contextActivities"]
        context["contextActivities"] = {
            k: [{kk: vv for kk, vv in a.items() if kk != "definition"} if isinstance(a, dict) else a for a in v]
            if isinstance(v, list) else v
            for k, v in ca.items()
        }  # fmt: skip
    result = body.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        body["result"] = {**result, "duration": truncate_duration(result["duration"])}
    return body


_CASELESS = frozenset({"registration", "mbox_sha1sum", "sha2"})


def _case_folded(key: str, node: Any) -> Any:
    """``node`` with case-insensitive values lower-cased and Group members in a canonical order."""
    if isinstance(node, dict):
        out = {k: _case_folded(k, v) for k, v in node.items()}
        if out.get("objectType") == "StatementRef" and isinstance(out.get("id"), str):
            out["id"] = out["id"].lower()
        if key == "statement" and isinstance(out.get("id"), str):  # context.statement (a StatementRef)
            out["id"] = out["id"].lower()
        if isinstance(out.get("member"), list):
            out["member"] = sorted(out["member"], key=lambda m: json.dumps(m, sort_keys=True))
        return out
    if isinstance(node, list):
        return [_case_folded(key, v) for v in node]
    if isinstance(node, str):
        if key in _CASELESS:
            return node.lower()
        if key == "mbox" and "@" in node:
            local, _, domain = node.rpartition("@")
            return f"{local}@{domain.lower()}"
    return node


def same_statement(stored: Mapping[str, Any], resent: Mapping[str, Any], *, timestamp_assigned: bool = False) -> bool:
    """Whether ``resent`` is the stored statement again, by xAPI's Statement Comparison Requirements.

    A resent statement sent without a ``timestamp`` (none, or ``timestamp_assigned`` by the LRS)
    matches any stored one (the LRS assigns a missing timestamp); with one, both name the same instant.
    """
    if _comparable(stored) != _comparable(resent):
        return False
    if timestamp_assigned or "timestamp" not in resent:
        return True
    return parse_timestamp(stored.get("timestamp")) == parse_timestamp(resent.get("timestamp"))


def differing_properties(stored: Mapping[str, Any], resent: Mapping[str, Any], timestamp_assigned: bool) -> list[str]:
    """The top-level properties in which two statements differ by the comparison rules."""
    a, b = _comparable(stored), _comparable(resent)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not timestamp_assigned and "timestamp" in resent:
        if parse_timestamp(stored.get("timestamp")) != parse_timestamp(resent["timestamp"]):
            keys.append("timestamp")
    return keys or ["?"]
