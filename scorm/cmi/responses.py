"""SCORM 2004 interaction response formats as one data table, and a validator that reads it.

``cmi.interactions.n.correct_responses.n.pattern`` (RTE 4th §4.2.9.1) and
``cmi.interactions.n.learner_response`` (RTE 4th §4.2.9.2) have a format that depends on
``cmi.interactions.n.type``. ``RESPONSE_FORMATS[type]`` gives, for each of the two, the item
kind, the list delimiter, the item cap, uniqueness, allowed leading delimiters
(``{case_matters=...}``, ``{order_matters=...}``) and the cap on the number of correct response
patterns. ``export_response_formats()`` exposes the same table to a browser adapter.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Final

from scorm.cmi.datatypes import (
    DECIMAL_PATTERN,
    IDENTIFIER_2004_PATTERN,
    LOCALIZED_PATTERN,
    strip_lang,
)

logger = logging.getLogger(__name__)

LIST_DELIMITER: Final = "[,]"
PAIR_DELIMITER: Final = "[.]"
RANGE_DELIMITER: Final = "[:]"

# Item kinds: the JS-compatible pattern and length cap of one item.
ITEM_PATTERNS: Final = MappingProxyType(
    {
        "boolean": (r"^(?:true|false)$", 5),
        "short_identifier": (IDENTIFIER_2004_PATTERN, 250),
        "localized_250": (LOCALIZED_PATTERN, 250),
        "localized_4000": (LOCALIZED_PATTERN, 4000),
        "characterstring_4000": (r"^[\s\S]*$", 4000),
        "real": (DECIMAL_PATTERN, 40),
        # "a[.]b" pairs and performance steps are checked structurally, see _check_item.
        "pair": (None, 501),
        "step": (None, 501),
        "step_pattern": (None, 501),
        "numeric_range": (None, 90),
    }
)
_ITEM_RE: Final = {k: re.compile(p) for k, (p, _) in ITEM_PATTERNS.items() if p is not None}
_SHORT_ID = _ITEM_RE["short_identifier"]
_DECIMAL = _ITEM_RE["real"]
_LOCALIZED = _ITEM_RE["localized_250"]


@dataclass(frozen=True, kw_only=True)
class ListFormat:
    """Format of one response string (a correct pattern or a learner response)."""

    item: str
    max_items: int = 1
    delimiter: str | None = None
    unique: bool = False
    allow_empty: bool = False
    prefixes: tuple[str, ...] = ()
    # long-fill-in: ADL's CTS reads "{lang=eng}{case_matters=true}text" as both delimiters
    # (the text counted against the SPM is "text"), while fill-in items keep what follows
    # {lang=...} as their text.
    prefixes_after_lang: bool = False


@dataclass(frozen=True, kw_only=True)
class ResponseFormat:
    """Correct-response and learner-response formats of one interaction type."""

    interaction_type: str
    spec: str
    pattern: ListFormat
    learner: ListFormat
    # Cap on cmi.interactions.n.correct_responses._count. The spec fixes exactly 1 for
    # true-false, likert, numeric and other; for the rest it gives an SPM, and we cap at a
    # generous bound so that a document stays small (SPEC COMPLIANCE NOTE: SPM is a minimum
    # an LMS must support, not a maximum; the caps below are at least the SPM).
    max_patterns: int
    spm_patterns: int
    unique_patterns: bool = False


def _f(**kwargs: Any) -> ListFormat:
    return ListFormat(**kwargs)


RESPONSE_FORMATS: Final = MappingProxyType(
    {
        "true-false": ResponseFormat(
            interaction_type="true-false",
            spec="RTE 4th §4.2.9.1 true-false",
            pattern=_f(item="boolean"),
            learner=_f(item="boolean"),
            max_patterns=1,
            spm_patterns=1,
        ),
        "choice": ResponseFormat(
            interaction_type="choice",
            spec="RTE 4th §4.2.9.1 choice",
            pattern=_f(
                item="short_identifier",
                max_items=36,
                delimiter=LIST_DELIMITER,
                unique=True,
                allow_empty=True,
            ),
            learner=_f(
                item="short_identifier",
                max_items=36,
                delimiter=LIST_DELIMITER,
                unique=True,
                allow_empty=True,
            ),
            max_patterns=250,
            spm_patterns=10,
            unique_patterns=True,
        ),
        "fill-in": ResponseFormat(
            interaction_type="fill-in",
            spec="RTE 4th §4.2.9.1 fill-in",
            pattern=_f(
                item="localized_250",
                max_items=10,
                delimiter=LIST_DELIMITER,
                allow_empty=True,
                prefixes=("case_matters", "order_matters"),
            ),
            learner=_f(
                item="localized_250", max_items=10, delimiter=LIST_DELIMITER, allow_empty=True
            ),
            max_patterns=250,
            spm_patterns=5,
        ),
        "long-fill-in": ResponseFormat(
            interaction_type="long-fill-in",
            spec="RTE 4th §4.2.9.1 long-fill-in",
            pattern=_f(
                item="localized_4000",
                allow_empty=True,
                prefixes=("case_matters",),
                prefixes_after_lang=True,
            ),
            learner=_f(item="localized_4000", allow_empty=True),
            max_patterns=250,
            spm_patterns=5,
        ),
        "likert": ResponseFormat(
            interaction_type="likert",
            spec="RTE 4th §4.2.9.1 likert",
            pattern=_f(item="short_identifier"),
            learner=_f(item="short_identifier"),
            max_patterns=1,
            spm_patterns=1,
        ),
        "matching": ResponseFormat(
            interaction_type="matching",
            spec="RTE 4th §4.2.9.1 matching",
            pattern=_f(item="pair", max_items=36, delimiter=LIST_DELIMITER, allow_empty=True),
            learner=_f(item="pair", max_items=36, delimiter=LIST_DELIMITER, allow_empty=True),
            max_patterns=250,
            spm_patterns=5,
        ),
        "performance": ResponseFormat(
            interaction_type="performance",
            spec="RTE 4th §4.2.9.1 performance",
            pattern=_f(
                item="step_pattern",
                max_items=125,
                delimiter=LIST_DELIMITER,
                prefixes=("order_matters",),
            ),
            learner=_f(item="step", max_items=250, delimiter=LIST_DELIMITER),
            max_patterns=250,
            spm_patterns=5,
        ),
        "sequencing": ResponseFormat(
            interaction_type="sequencing",
            spec="RTE 4th §4.2.9.1 sequencing",
            pattern=_f(item="short_identifier", max_items=36, delimiter=LIST_DELIMITER),
            learner=_f(item="short_identifier", max_items=36, delimiter=LIST_DELIMITER),
            max_patterns=250,
            spm_patterns=5,
        ),
        "numeric": ResponseFormat(
            interaction_type="numeric",
            spec="RTE 4th §4.2.9.1 numeric",
            pattern=_f(item="numeric_range"),
            learner=_f(item="real"),
            max_patterns=1,
            spm_patterns=1,
        ),
        "other": ResponseFormat(
            interaction_type="other",
            spec="RTE 4th §4.2.9.1 other",
            pattern=_f(item="characterstring_4000", allow_empty=True),
            learner=_f(item="characterstring_4000", allow_empty=True),
            max_patterns=1,
            spm_patterns=1,
        ),
    }
)

_PREFIX_RE: Final = re.compile(r"\{(case_matters|order_matters)=([^}]*)\}")


def _strip_prefixes(value: str, allowed: tuple[str, ...]) -> str | None:
    """Remove leading ``{case_matters=..}``/``{order_matters=..}``; None if malformed."""
    seen: set[str] = set()
    while value.startswith(("{case_matters=", "{order_matters=")):
        match = _PREFIX_RE.match(value)
        if match is None:
            return None
        name, flag = match.groups()
        if name not in allowed or name in seen or flag not in ("true", "false"):
            return None
        seen.add(name)
        value = value[match.end() :]
    return value


def _check_item(kind: str, item: str) -> bool:
    """Whether one item of a response list is valid for its kind."""
    if kind == "pair":
        parts = item.split(PAIR_DELIMITER)
        return (
            len(parts) == 2
            and len(parts[0]) <= 250
            and len(parts[1]) <= 250
            and _SHORT_ID.fullmatch(parts[0]) is not None
            and _SHORT_ID.fullmatch(parts[1]) is not None
        )
    if kind in ("step", "step_pattern"):
        # step_name[.]step_answer; either part may be empty but not both (RTE 4th §4.2.9.1).
        parts = item.split(PAIR_DELIMITER)
        if len(parts) != 2 or (parts[0] == "" and parts[1] == ""):
            return False
        name, answer = parts
        if name and (len(name) > 250 or _SHORT_ID.fullmatch(name) is None):
            return False
        if len(answer) > 250:
            return False
        if kind == "step_pattern" and RANGE_DELIMITER in answer:
            return _check_range(answer)
        return True
    if kind == "numeric_range":
        return _check_range(item)
    cap = ITEM_PATTERNS[kind][1]
    text = strip_lang(item) if kind.startswith("localized") else item
    if len(text) > cap:
        return False
    return _ITEM_RE[kind].fullmatch(item) is not None


def _check_range(item: str) -> bool:
    """``min[:]max`` with either bound optional, both real(10,7), min <= max.

    SPEC COMPLIANCE NOTE: a single number (no ``[:]``) is accepted as the exact answer; real
    content (the ADL/Rustici golf examples) records numeric correct patterns that way
    (strict: ``min[:]max`` only).
    """
    if RANGE_DELIMITER not in item:
        return _DECIMAL.fullmatch(item) is not None
    parts = item.split(RANGE_DELIMITER)
    if len(parts) != 2:
        return False
    low, high = parts
    for bound in (low, high):
        if bound and _DECIMAL.fullmatch(bound) is None:
            return False
    return not (low and high and float(low) > float(high))


def check_response(interaction_type: str, value: str, *, is_pattern: bool) -> bool:
    """Whether ``value`` is a well-formed response for ``interaction_type``.

    Args:
        interaction_type: the value of ``cmi.interactions.n.type``.
        value: the correct response pattern or learner response.
        is_pattern: True for ``correct_responses.n.pattern``, False for ``learner_response``.

    Returns:
        True when the value fits the type's format (RTE 4th §4.2.9.1 / §4.2.9.2).
    """
    fmt = RESPONSE_FORMATS.get(interaction_type)
    if fmt is None:
        return False
    lf = fmt.pattern if is_pattern else fmt.learner
    if lf.prefixes:
        stripped = _strip_prefixes(value, lf.prefixes)
        if stripped is None:
            return False
        if lf.prefixes_after_lang and stripped == value and value.startswith("{lang="):
            end = value.find("}") + 1
            rest = _strip_prefixes(value[end:], lf.prefixes) if end else value
            if rest is None:
                return False
            stripped = value[:end] + rest
        value = stripped
    if value == "":
        return lf.allow_empty
    items = value.split(lf.delimiter) if lf.delimiter else [value]
    if len(items) > lf.max_items:
        return False
    if lf.unique and len(set(items)) != len(items):
        return False
    kind = lf.item
    return all(_check_item(kind, item) for item in items)


def export_response_formats() -> dict[str, Any]:
    """The response format table as JSON-serialisable data (for a browser adapter)."""
    return {
        "delimiters": {
            "list": LIST_DELIMITER,
            "pair": PAIR_DELIMITER,
            "range": RANGE_DELIMITER,
        },
        "items": {k: {"pattern": p, "max_length": cap} for k, (p, cap) in ITEM_PATTERNS.items()},
        "types": {
            name: {
                **asdict(fmt),
                "pattern": {**asdict(fmt.pattern), "prefixes": list(fmt.pattern.prefixes)},
                "learner": {**asdict(fmt.learner), "prefixes": list(fmt.learner.prefixes)},
            }
            for name, fmt in RESPONSE_FORMATS.items()
        },
    }
