"""xAPI statement rules (1.0.3 and 2.0.0): one precise message per broken rule.

:func:`validate_statement` raises :class:`StatementError` naming the JSON path and the rule, e.g.
``statement.actor: an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid, account), got 2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorm.xapi.checks import (
    StatementError,
    _bool,
    _fail,
    _iri,
    _keys,
    _kind,
    _number,
    _obj,
    _string,
    _uuid,
)
from scorm.xapi.formats import (
    is_duration,
    is_iri,
    is_language_tag,
    is_mailto,
    is_sha1_hex,
    is_timestamp,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "StatementError",
    "validate_activity",
    "validate_agent",
    "validate_statement",
]

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
INTERACTION_TYPES = {
    "true-false": (),
    "choice": ("choices",),
    "fill-in": (),
    "long-fill-in": (),
    "matching": ("source", "target"),
    "performance": ("steps",),
    "sequencing": ("choices",),
    "likert": ("scale",),
    "numeric": (),
    "other": (),
}
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")
# the properties each object may have (frozensets: :func:`_keys` judges them in one subset test)
_ACCOUNT_KEYS = frozenset({"homePage", "name"})
_AGENT_KEYS = frozenset({"objectType", "name", *IFIS})
_GROUP_KEYS = frozenset({"objectType", "name", "member", *IFIS})
_VERB_KEYS = frozenset({"id", "display"})
_ACTIVITY_KEYS = frozenset({"objectType", "id", "definition"})
_DEFINITION_KEYS = frozenset(
    {"name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern",
     *COMPONENT_LISTS}
)  # fmt: skip
_RESULT_KEYS = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
_SCORE_KEYS = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_KEYS = frozenset(
    {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement",
     "extensions"}
)  # fmt: skip
_CONTEXT_KEYS_2 = _CONTEXT_KEYS | {"contextAgents", "contextGroups"}
_CONTEXT_ACTIVITY_SET = frozenset(CONTEXT_ACTIVITY_KEYS)
_BODY_KEYS = frozenset({"actor", "verb", "object", "result", "context", "timestamp", "attachments"})
_SUBSTATEMENT_KEYS = _BODY_KEYS | {"objectType"}
_STATEMENT_KEYS = _BODY_KEYS | {"id", "stored", "authority", "version"}


class _Rules:
    """One validation run, parametrised by the xAPI version."""

    def __init__(self, version: str) -> None:
        self.v2 = version.startswith("2.")

    # -- small types ---------------------------------------------------------------------

    def language_map(self, value: object, path: str) -> None:
        obj = _obj(value, path, "a language map")
        for tag, text in obj.items():
            if not is_language_tag(tag):
                raise _fail(path, f"{tag!r} is not an RFC 5646 language tag")
            if not isinstance(text, str):
                raise _fail(f"{path}.{tag}", f"must be a string, got {_kind(text)}")

    def extensions(self, value: object, path: str) -> None:
        obj = _obj(value, path, "extensions")
        for key in obj:
            if not is_iri(key):
                raise _fail(path, f"extension key {key!r} is not an absolute IRI")

    def timestamp(self, value: object, path: str) -> None:
        if not is_timestamp(value, allow_negative_zero=False):
            hint = " (the -00:00 offset is forbidden: use Z or +00:00)" if is_timestamp(value) else ""
            raise _fail(path, f"must be an ISO 8601 timestamp{hint}, got {value!r}")

    # -- actors ----------------------------------------------------------------------------

    def ifi_count(self, obj: Mapping[str, Any], path: str) -> int:
        found = [k for k in IFIS if k in obj]
        for key in found:
            value = obj[key]
            if key == "mbox" and not is_mailto(value):
                raise _fail(f"{path}.mbox", f"must be a 'mailto:' IRI with one email address, got {value!r}")
            if key == "mbox_sha1sum" and not is_sha1_hex(value):
                raise _fail(f"{path}.mbox_sha1sum", "must be the 40 hex digit SHA-1 of the mailto IRI")
            if key == "openid":
                _iri(value, f"{path}.openid")
            if key == "account":
                account = _obj(value, f"{path}.account", "an account")
                _keys(account, f"{path}.account", _ACCOUNT_KEYS, "an account")
                if "homePage" not in account or "name" not in account:
                    raise _fail(f"{path}.account", "an account needs both homePage and name")
                _iri(account["homePage"], f"{path}.account.homePage")
                _string(account["name"], f"{path}.account.name")
        return len(found)

    def agent(self, value: object, path: str, *, object_type_required: bool = False) -> None:
        obj = _obj(value, path, "an Agent")
        _keys(obj, path, _AGENT_KEYS, "an Agent")
        if object_type_required and "objectType" not in obj:
            raise _fail(path, "objectType 'Agent' is required here")
        if obj.get("objectType", "Agent") != "Agent":
            raise _fail(f"{path}.objectType", f"must be 'Agent', got {obj.get('objectType')!r}")
        if "name" in obj:
            _string(obj["name"], f"{path}.name")
        n = self.ifi_count(obj, path)
        if n != 1:
            raise _fail(path, f"an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid, account), got {n}")

    def group(self, value: object, path: str) -> None:
        obj = _obj(value, path, "a Group")
        _keys(obj, path, _GROUP_KEYS, "a Group")
        if obj.get("objectType") != "Group":
            raise _fail(f"{path}.objectType", "must be 'Group'")
        if "name" in obj:
            _string(obj["name"], f"{path}.name")
        n = self.ifi_count(obj, path)
        if n > 1:
            raise _fail(path, f"an identified Group has exactly one identifier, got {n}")
        if "member" in obj:
            members = obj["member"]
            if not isinstance(members, list):
                raise _fail(f"{path}.member", f"must be an array of Agents, got {_kind(members)}")
            for i, member in enumerate(members):
                mpath = f"{path}.member[{i}]"
                if isinstance(member, dict) and member.get("objectType") == "Group":
                    raise _fail(mpath, "a Group's members must be Agents, not Groups")
                self.agent(member, mpath)
        if n == 0:
            if "member" not in obj:
                raise _fail(path, "an anonymous Group (no identifier) needs a member array")
            if not obj["member"]:
                raise _fail(f"{path}.member", "an anonymous Group needs at least one member")

    def actor(self, value: object, path: str, *, object_type_required: bool = False) -> None:
        obj = _obj(value, path, "an Agent or Group")
        if obj.get("objectType") == "Group":
            self.group(obj, path)
        else:
            self.agent(obj, path, object_type_required=object_type_required)

    # -- verb and objects ------------------------------------------------------------------

    def verb(self, value: object, path: str) -> None:
        obj = _obj(value, path, "a verb")
        _keys(obj, path, _VERB_KEYS, "a verb")
        if "id" not in obj:
            raise _fail(path, "a verb needs an id")
        _iri(obj["id"], f"{path}.id")
        if "display" in obj:
            self.language_map(obj["display"], f"{path}.display")

    def interaction_components(self, value: object, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, f"must be an array of interaction components, got {_kind(value)}")
        seen: set[str] = set()
        for i, comp in enumerate(value):
            cpath = f"{path}[{i}]"
            comp = _obj(comp, cpath, "an interaction component")
            _keys(comp, cpath, ("id", "description"), "an interaction component")
            if "id" not in comp:
                raise _fail(cpath, "an interaction component needs an id")
            cid = _string(comp["id"], f"{cpath}.id")
            if cid in seen:
                raise _fail(f"{cpath}.id", f"duplicate interaction component id {cid!r}")
            seen.add(cid)
            if "description" in comp:
                self.language_map(comp["description"], f"{cpath}.description")

    def definition(self, value: object, path: str) -> None:
        obj = _obj(value, path, "an activity definition")
        _keys(obj, path, _DEFINITION_KEYS, "an activity definition")
        for key in ("name", "description"):
            if key in obj:
                self.language_map(obj[key], f"{path}.{key}")
        if "type" in obj:
            _iri(obj["type"], f"{path}.type")
        if "moreInfo" in obj:
            _iri(obj["moreInfo"], f"{path}.moreInfo")
        if "extensions" in obj:
            self.extensions(obj["extensions"], f"{path}.extensions")
        itype = obj.get("interactionType")
        if itype is not None and (not isinstance(itype, str) or itype not in INTERACTION_TYPES):
            raise _fail(f"{path}.interactionType", f"unknown interaction type {itype!r}")
        if "correctResponsesPattern" in obj:
            if itype is None:
                raise _fail(f"{path}.correctResponsesPattern", "only allowed with an interactionType")
            pattern = obj["correctResponsesPattern"]
            if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
                raise _fail(f"{path}.correctResponsesPattern", "must be an array of strings")
        for key in COMPONENT_LISTS:
            if key in obj:
                if itype is None:
                    raise _fail(f"{path}.{key}", "only allowed with an interactionType")
                if key not in INTERACTION_TYPES[itype]:
                    raise _fail(f"{path}.{key}", f"not allowed for interaction type {itype!r}")
                self.interaction_components(obj[key], f"{path}.{key}")

    def activity(self, value: object, path: str) -> None:
        obj = _obj(value, path, "an Activity")
        _keys(obj, path, _ACTIVITY_KEYS, "an Activity")
        if obj.get("objectType", "Activity") != "Activity":
            raise _fail(f"{path}.objectType", "must be 'Activity'")
        if "id" not in obj:
            raise _fail(path, "an Activity needs an id")
        _iri(obj["id"], f"{path}.id")
        if "definition" in obj:
            self.definition(obj["definition"], f"{path}.definition")

    def statement_ref(self, value: object, path: str) -> None:
        obj = _obj(value, path, "a StatementRef")
        _keys(obj, path, ("objectType", "id"), "a StatementRef")
        if obj.get("objectType") != "StatementRef":
            raise _fail(f"{path}.objectType", "must be 'StatementRef'")
        if "id" not in obj:
            raise _fail(path, "a StatementRef needs an id")
        _uuid(obj["id"], f"{path}.id")

    def object(self, value: object, path: str, *, in_substatement: bool) -> str:
        obj = _obj(value, path, "a statement object")
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(obj, path)
        elif kind == "Agent":
            self.agent(obj, path, object_type_required=True)
        elif kind == "Group":
            self.group(obj, path)
        elif kind == "StatementRef":
            self.statement_ref(obj, path)
        elif kind == "SubStatement":
            if in_substatement:
                raise _fail(path, "a SubStatement must not contain a SubStatement")
            self.body(obj, path, substatement=True)
        else:
            raise _fail(f"{path}.objectType", f"unknown objectType {kind!r}")
        return str(kind)

    # -- result, context, attachments ------------------------------------------------------

    def result(self, value: object, path: str) -> None:
        obj = _obj(value, path, "a result")
        _keys(obj, path, _RESULT_KEYS, "a result")
        if "score" in obj:
            spath = f"{path}.score"
            score = _obj(obj["score"], spath, "a score")
            _keys(score, spath, _SCORE_KEYS, "a score")
            nums = {k: _number(score[k], f"{spath}.{k}") for k in ("scaled", "raw", "min", "max") if k in score}
            if "scaled" in nums and not -1 <= nums["scaled"] <= 1:
                raise _fail(f"{spath}.scaled", f"must be between -1 and 1, got {nums['scaled']}")
            if "min" in nums and "max" in nums and nums["min"] >= nums["max"]:
                raise _fail(spath, "min must be less than max")
            if "raw" in nums and "min" in nums and nums["raw"] < nums["min"]:
                raise _fail(f"{spath}.raw", "must not be less than min")
            if "raw" in nums and "max" in nums and nums["raw"] > nums["max"]:
                raise _fail(f"{spath}.raw", "must not be greater than max")
        for key in ("success", "completion"):
            if key in obj:
                _bool(obj[key], f"{path}.{key}")
        if "response" in obj:
            _string(obj["response"], f"{path}.response")
        if "duration" in obj and not is_duration(obj["duration"]):
            raise _fail(f"{path}.duration", f"must be an ISO 8601 duration, got {obj['duration']!r}")
        if "extensions" in obj:
            self.extensions(obj["extensions"], f"{path}.extensions")

    def context(self, value: object, path: str, object_kind: str) -> None:
        obj = _obj(value, path, "a context")
        _keys(obj, path, _CONTEXT_KEYS_2 if self.v2 else _CONTEXT_KEYS, "a context")
        if "registration" in obj:
            _uuid(obj["registration"], f"{path}.registration")
        if "instructor" in obj:
            self.actor(obj["instructor"], f"{path}.instructor")
        if "team" in obj:
            team = _obj(obj["team"], f"{path}.team", "a Group")
            if team.get("objectType") != "Group":
                raise _fail(f"{path}.team", "must be a Group (objectType 'Group')")
            self.group(team, f"{path}.team")
        if "contextActivities" in obj:
            cpath = f"{path}.contextActivities"
            ca = _obj(obj["contextActivities"], cpath, "contextActivities")
            _keys(ca, cpath, _CONTEXT_ACTIVITY_SET, "contextActivities")
            for key, acts in ca.items():
                items = acts if isinstance(acts, list) else [acts]
                for i, act in enumerate(items):
                    self.activity(act, f"{cpath}.{key}[{i}]" if isinstance(acts, list) else f"{cpath}.{key}")
        for key in ("revision", "platform"):
            if key in obj:
                _string(obj[key], f"{path}.{key}")
                if object_kind != "Activity":
                    raise _fail(f"{path}.{key}", "only allowed when the statement's object is an Activity")
        if "language" in obj and not is_language_tag(obj["language"]):
            raise _fail(f"{path}.language", f"must be an RFC 5646 language tag, got {obj['language']!r}")
        if "statement" in obj:
            self.statement_ref(obj["statement"], f"{path}.statement")
        if "extensions" in obj:
            self.extensions(obj["extensions"], f"{path}.extensions")
        if "contextAgents" in obj:
            self.context_actors(obj["contextAgents"], f"{path}.contextAgents", "agent", "Agent")
        if "contextGroups" in obj:
            self.context_actors(obj["contextGroups"], f"{path}.contextGroups", "group", "Group")

    def context_actors(self, value: object, path: str, key: str, kind: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, f"must be an array, got {_kind(value)}")
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            entry = _obj(item, ipath, f"a context{kind}")
            _keys(entry, ipath, ("objectType", key, "relevantTypes"), f"a context{kind}")
            if entry.get("objectType") != f"context{kind}":
                raise _fail(f"{ipath}.objectType", f"must be 'context{kind}'")
            if key not in entry:
                raise _fail(ipath, f"needs {key}")
            if kind == "Agent":
                self.agent(entry[key], f"{ipath}.{key}")
            else:
                self.group(entry[key], f"{ipath}.{key}")
            if "relevantTypes" in entry:
                types = entry["relevantTypes"]
                if not isinstance(types, list) or not types:
                    raise _fail(f"{ipath}.relevantTypes", "must be a non-empty array of IRIs")
                for j, t in enumerate(types):
                    _iri(t, f"{ipath}.relevantTypes[{j}]")

    def attachments(self, value: object, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, f"must be an array, got {_kind(value)}")
        for i, item in enumerate(value):
            apath = f"{path}[{i}]"
            att = _obj(item, apath, "an attachment")
            _keys(
                att,
                apath,
                ("usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"),
                "an attachment",
            )
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in att:
                    raise _fail(apath, f"an attachment needs {key}")
            _iri(att["usageType"], f"{apath}.usageType")
            self.language_map(att["display"], f"{apath}.display")
            if "description" in att:
                self.language_map(att["description"], f"{apath}.description")
            ctype = _string(att["contentType"], f"{apath}.contentType")
            if "/" not in ctype or " " in ctype.split(";")[0]:
                raise _fail(f"{apath}.contentType", f"must be an Internet Media Type, got {ctype!r}")
            length = att["length"]
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise _fail(f"{apath}.length", "must be a non-negative integer")
            sha2 = _string(att["sha2"], f"{apath}.sha2")
            if not sha2 or any(c not in "0123456789abcdefABCDEF" for c in sha2):
                raise _fail(f"{apath}.sha2", "must be the hexadecimal SHA-2 of the attachment")
            if "fileUrl" in att:
                _iri(att["fileUrl"], f"{apath}.fileUrl")

    # -- statement -----------------------------------------------------------------------------

    def body(self, obj: Mapping[str, Any], path: str, *, substatement: bool) -> None:
        if substatement:
            for key in ("id", "stored", "version", "authority"):
                if key in obj:
                    raise _fail(f"{path}.{key}", "not allowed in a SubStatement")
        allowed = _SUBSTATEMENT_KEYS if substatement else _STATEMENT_KEYS
        _keys(obj, path, allowed, "a SubStatement" if substatement else "a statement")
        for key in ("actor", "verb", "object"):
            if key not in obj:
                raise _fail(path, f"a statement needs {key}")
        self.actor(obj["actor"], f"{path}.actor")
        self.verb(obj["verb"], f"{path}.verb")
        kind = self.object(obj["object"], f"{path}.object", in_substatement=substatement)
        if "result" in obj:
            self.result(obj["result"], f"{path}.result")
        if "context" in obj:
            self.context(obj["context"], f"{path}.context", kind)
        if "timestamp" in obj:
            self.timestamp(obj["timestamp"], f"{path}.timestamp")
        if "attachments" in obj:
            self.attachments(obj["attachments"], f"{path}.attachments")
        if not substatement:
            if "id" in obj:
                _uuid(obj["id"], f"{path}.id")
            if "stored" in obj:
                self.timestamp(obj["stored"], f"{path}.stored")
            if "authority" in obj:
                self.authority(obj["authority"], f"{path}.authority")
            if "version" in obj:
                self.statement_version(obj["version"], f"{path}.version")
        verb_id = obj["verb"]["id"]
        if verb_id == "http://adlnet.gov/expapi/verbs/voided":
            target = obj["object"]
            if target.get("objectType") != "StatementRef":
                raise _fail(f"{path}.object", "a voiding statement's object must be a StatementRef")

    def authority(self, value: object, path: str) -> None:
        obj = _obj(value, path, "an authority")
        self.actor(obj, path)
        if obj.get("objectType") == "Group":
            if any(k in obj for k in IFIS):
                raise _fail(path, "a Group authority must be anonymous (an OAuth consumer and user, no identifier)")
            if len(obj.get("member", [])) != 2:
                raise _fail(f"{path}.member", "a Group authority is an OAuth consumer and user: exactly 2 members")

    def statement_version(self, value: object, path: str) -> None:
        version = _string(value, path)
        prefixes = ("1.0", "2.0") if self.v2 else ("1.0",)
        parts = version.split(".")
        digits = all(p.isascii() and p.isdigit() for p in parts)  # isdigit() alone takes "²" and "٣"
        ok = len(parts) in (2, 3) and digits and ".".join(parts[:2]) in prefixes
        if not ok:
            raise _fail(
                path, f"must be one of the xAPI versions {', '.join(p + '.x' for p in prefixes)}, got {version!r}"
            )


def validate_statement(statement: object, version: str = "1.0.3") -> None:
    """Check one statement against the rules of xAPI ``version`` (``1.0.3`` or ``2.0.0``).

    Raises:
        StatementError: the first broken rule, with its JSON path.
    """
    rules = _Rules(version)
    obj = _obj(statement, "statement", "a statement")
    rules.body(obj, "statement", substatement=False)


def validate_agent(agent: object, version: str = "1.0.3", path: str = "agent") -> None:
    """Check an Agent (or identified Group) given as a query parameter or document key.

    Raises:
        StatementError: the broken rule.
    """
    _Rules(version).actor(agent, path)


def validate_activity(activity: object, version: str = "1.0.3", path: str = "activity") -> None:
    """Check an Activity object.

    Raises:
        StatementError: the broken rule.
    """
    _Rules(version).activity(activity, path)
