"""Statement normalisation (stored form), agent keys for indexing, and the GET ``format`` views."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeGuard

__all__ = [
    "activity_ids_of",
    "agent_key",
    "agent_keys_of",
    "format_statement",
    "index_keys",
    "normalize_statement",
]

CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, with JSON's dicts answered without the ABC machinery (hot path)."""
    return type(value) is dict or isinstance(value, Mapping)


def agent_key(actor: Mapping[str, Any]) -> str | None:
    """A stable string for an Agent's or identified Group's inverse functional identifier."""
    if "mbox" in actor:
        return f"mbox:{str(actor['mbox']).lower()}"
    if "mbox_sha1sum" in actor:
        return f"sha1:{str(actor['mbox_sha1sum']).lower()}"
    if "openid" in actor:
        return f"openid:{actor['openid']}"
    account = actor.get("account")
    if _is_map(account):
        return f"account:{account.get('homePage')}|{account.get('name')}"
    return None


def normalize_statement(statement: dict[str, Any]) -> dict[str, Any]:
    """The stored form: contextActivities values always arrays (also inside a SubStatement)."""
    _normalize_body(statement)
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        _normalize_body(obj)
    return statement


def _normalize_body(body: dict[str, Any]) -> None:
    context = body.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        ca = context["contextActivities"]
        for key, value in list(ca.items()):
            ca[key] = value if isinstance(value, list) else [value]


def _actors(body: Mapping[str, Any], *, related: bool) -> Iterator[Mapping[str, Any]]:
    actor = body.get("actor")
    if _is_map(actor):
        yield actor
        if related:
            yield from _members(actor)
    obj = body.get("object")
    if _is_map(obj) and obj.get("objectType") in ("Agent", "Group"):
        yield obj
        if related:
            yield from _members(obj)
    if not related:
        return
    for key in ("authority",):
        if _is_map(body.get(key)):
            yield body[key]
            yield from _members(body[key])
    context = body.get("context")
    if _is_map(context):
        for key in ("instructor", "team"):
            if _is_map(context.get(key)):
                yield context[key]
                yield from _members(context[key])
        for entry in context.get("contextAgents") or []:
            if _is_map(entry) and _is_map(entry.get("agent")):
                yield entry["agent"]
        for entry in context.get("contextGroups") or []:
            if _is_map(entry) and _is_map(entry.get("group")):
                yield entry["group"]
                yield from _members(entry["group"])
    if _is_map(obj) and obj.get("objectType") == "SubStatement":
        yield from _actors(obj, related=True)


def _members(actor: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for member in actor.get("member") or []:
        if _is_map(member):
            yield member


def agent_keys_of(statement: Mapping[str, Any], *, related: bool) -> set[str]:
    """Agent keys a statement matches: actor/object, or (related) every agent anywhere in it."""
    keys = {agent_key(a) for a in _actors(statement, related=related)}
    keys.discard(None)
    return keys  # type: ignore[return-value]


def index_keys(statement: Mapping[str, Any]) -> tuple[set[str], set[str], set[str], set[str]]:
    """The index rows of a statement in one walk: direct agent keys, the other (related) agent keys,
    direct activity ids, the other (related) activity ids.

    The same sets as :func:`agent_keys_of` and :func:`activity_ids_of` (direct, and related minus direct).
    """
    direct_agents: set[str] = set()
    direct_acts: set[str] = set()
    actor = statement.get("actor")
    if _is_map(actor):
        key = agent_key(actor)
        if key is not None:
            direct_agents.add(key)
    obj = statement.get("object")
    if _is_map(obj):
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            if "id" in obj:
                direct_acts.add(obj["id"])
        elif kind in ("Agent", "Group"):
            key = agent_key(obj)
            if key is not None:
                direct_agents.add(key)
    return (
        direct_agents,
        agent_keys_of(statement, related=True) - direct_agents,
        direct_acts,
        activity_ids_of(statement, related=True) - direct_acts,
    )


def activity_ids_of(statement: Mapping[str, Any], *, related: bool) -> set[str]:
    """Activity ids a statement matches: its object, or (related) every activity anywhere in it."""
    found: set[str] = set()

    def visit(body: Mapping[str, Any]) -> None:
        obj = body.get("object")
        if _is_map(obj):
            if obj.get("objectType", "Activity") == "Activity" and "id" in obj:
                found.add(obj["id"])
            elif related and obj.get("objectType") == "SubStatement":
                visit(obj)
        if related:
            context = body.get("context")
            if _is_map(context) and _is_map(context.get("contextActivities")):
                for acts in context["contextActivities"].values():
                    for act in acts if isinstance(acts, list) else [acts]:
                        if _is_map(act) and "id" in act:
                            found.add(act["id"])

    visit(statement)
    return found


def _pick_language(lmap: Mapping[str, str], languages: Sequence[str]) -> dict[str, str]:
    lower = {k.lower(): k for k in lmap}
    for lang in languages:
        lang = lang.lower()
        if lang in lower:
            return {lower[lang]: lmap[lower[lang]]}
        for k_low, k in lower.items():
            if k_low.split("-")[0] == lang.split("-")[0]:
                return {k: lmap[k]}
    first = next(iter(lmap), None)
    return {first: lmap[first]} if first is not None else {}


def _ids_actor(actor: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "objectType" in actor:
        out["objectType"] = actor["objectType"]
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in actor:
            out[key] = actor[key]
    if "member" in actor and not any(k in actor for k in ("mbox", "mbox_sha1sum", "openid", "account")):
        out["member"] = [_ids_actor(m) for m in actor["member"]]
    return out


def _format_body(body: dict[str, Any], fmt: str, languages: Sequence[str]) -> None:
    if fmt == "ids":
        for key in ("actor", "authority"):
            if isinstance(body.get(key), dict):
                body[key] = _ids_actor(body[key])
        body["verb"] = {"id": body["verb"]["id"]}
        obj = body.get("object")
        if isinstance(obj, dict):
            kind = obj.get("objectType", "Activity")
            if kind == "Activity":
                body["object"] = {"id": obj["id"]}
            elif kind in ("Agent", "Group"):
                body["object"] = _ids_actor(obj)
            elif kind == "SubStatement":
                _format_body(obj, fmt, languages)
        context = body.get("context")
        if isinstance(context, dict):
            for key in ("instructor", "team"):
                if isinstance(context.get(key), dict):
                    context[key] = _ids_actor(context[key])
            ca = context.get("contextActivities")
            if isinstance(ca, dict):
                for key, acts in ca.items():
                    ca[key] = [{"id": a["id"]} for a in acts]
    elif fmt == "canonical":
        _canonical(body, languages)


_LANGMAP_KEYS = {"display", "name", "description"}


def _canonical(node: Any, languages: Sequence[str], key: str | None = None) -> None:
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "extensions":
                continue
            if k in _LANGMAP_KEYS and isinstance(v, dict) and all(isinstance(x, str) for x in v.values()):
                node[k] = _pick_language(v, languages)
            else:
                _canonical(v, languages, k)
    elif isinstance(node, list):
        for item in node:
            _canonical(item, languages, key)


def format_statement(statement: Mapping[str, Any], fmt: str, languages: Sequence[str] = ()) -> dict[str, Any]:
    """A copy of a stored statement in the ``exact``, ``ids`` or ``canonical`` format."""
    if fmt == "exact":
        return dict(statement)
    out = copy.deepcopy(dict(statement))
    _format_body(out, fmt, languages)
    return out
