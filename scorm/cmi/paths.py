"""Element-path parsing and the compiled element plans of the SCORM data model.

Built once at import from the declarative tables (``scorm.cmi.tables``): one :class:`_Plan` per
table path (validator closure, array levels, dependencies), and :func:`normalise_element`, which
maps a concrete element name to its table path and indices. Pure, stdlib-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from scorm.cmi.datatypes import DECIMAL_PATTERN, DataType, calendar_ok, strip_lang
from scorm.cmi.errors import ErrorKind
from scorm.cmi.tables import (
    _INDEX_RE,
    TABLE_12,
    TABLE_2004,
    ArraySpec,
    ElementSpec,
    ModelTable,
    index_value,
)

K = ErrorKind
Validator = Callable[[str], "ErrorKind | None"]

_KEYWORDS: Final = frozenset({"_children", "_count", "_version"})
_NAV_VALID_PREFIXES: Final = (
    ("adl.nav.request_valid.choice.{target=", "adl.nav.request_valid.choice.{target=}"),
    ("adl.nav.request_valid.jump.{target=", "adl.nav.request_valid.jump.{target=}"),
)
_DECIMAL_RE: Final = re.compile(DECIMAL_PATTERN)
_UNDEFINED_MARK: Final = "\x00"  # prefix making a path match no table entry


# ---------------------------------------------------------------------------------------------
# Compiled element plans (built once at import from the declarative tables).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    spec: ElementSpec
    validate: Validator
    # (concrete-key template with "{}" per index, number of indices it takes, array spec)
    arrays: tuple[tuple[str, int, ArraySpec], ...]
    requires: tuple[tuple[str, int], ...]
    cross: bool  # 2004 cross-element rules apply (ids uniqueness, response formats)


_CROSS_2004: Final = frozenset({"cmi.objectives.n.id", "cmi.interactions.n.objectives.n.id"})


def _template(path: str) -> tuple[str, int]:
    parts = path.split(".")
    return ".".join("{}" if p == "n" else p for p in parts), parts.count("n")


def _make_validator(spec: ElementSpec, dtype: DataType) -> Validator:
    """Compile an element's type/vocabulary/range rules into one closure (pure)."""
    vocab = frozenset(
        spec.write_vocabulary if spec.write_vocabulary is not None else spec.vocabulary
    )
    or_decimal = spec.or_decimal
    allow_blank = spec.allow_blank
    max_len = spec.max_length if spec.max_length is not None else dtype.max_length
    regex = dtype.compiled
    numeric = dtype.numeric
    low, high = spec.value_range if spec.value_range else (None, None)
    has_range = spec.value_range is not None
    localized = "localized" in dtype.checks
    calendar = "calendar" in dtype.checks

    def validate(value: str) -> ErrorKind | None:
        if vocab:
            if value in vocab:
                return None
            if not or_decimal:
                return K.TYPE_MISMATCH
            return None if _DECIMAL_RE.fullmatch(value) else K.TYPE_MISMATCH
        if allow_blank and value == "":
            return None
        if max_len is not None:
            size = len(strip_lang(value)) if localized else len(value)
            if size > max_len:
                return K.TYPE_MISMATCH
        if regex is not None and regex.fullmatch(value) is None:
            return K.TYPE_MISMATCH
        if calendar and not calendar_ok(value):
            return K.TYPE_MISMATCH
        if numeric and has_range:
            number = float(value)
            if (low is not None and number < low) or (high is not None and number > high):
                return K.VALUE_OUT_OF_RANGE
        return None

    return validate


def _compile(table: ModelTable) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for path, spec in table.elements.items():
        parts = path.split(".")
        arrays: list[tuple[str, int, ArraySpec]] = []
        for i, part in enumerate(parts):
            if part == "n":
                array_path = ".".join(parts[:i])
                template, used = _template(array_path)
                arrays.append((template, used, table.arrays[array_path]))
        requires = tuple(_template(r) for r in spec.requires)
        plans[path] = _Plan(
            spec=spec,
            validate=_make_validator(spec, table.types[spec.dtype]),
            arrays=tuple(arrays),
            requires=requires,
            cross=table.version == "2004" and (path in _CROSS_2004 or spec.response is not None),
        )
    return plans


_PLANS: Final = {"1.2": _compile(TABLE_12), "2004": _compile(TABLE_2004)}
_TABLES: Final = {"1.2": TABLE_12, "2004": TABLE_2004}


# Only short names are memoised, so a client cannot fill the caches with huge element names.
CACHEABLE_NAME_LENGTH: Final = 200


def normalise_element(element: str) -> tuple[str, tuple[int, ...]]:
    """Split a concrete element into its table path and its indices.

    ``"cmi.interactions.3.objectives.0.id"`` → ``("cmi.interactions.n.objectives.n.id", (3, 0))``.
    ``adl.nav.request_valid.choice.{target=X}`` maps to ``...choice.{target=}``. Indices must be
    canonical decimals: ``"01"`` maps to the path with INVALID_INDEX, which no array holds.
    """
    if len(element) <= CACHEABLE_NAME_LENGTH:
        return _normalise_cached(element)
    return _normalise(element)


def _normalise(element: str) -> tuple[str, tuple[int, ...]]:
    for prefix, path in _NAV_VALID_PREFIXES:
        if element.startswith(prefix):
            target = element[len(prefix) :]
            if len(target) > 1 and target.endswith("}") and "}" not in target[:-1]:
                return path, ()
            return _UNDEFINED_MARK + element, ()
    indices = tuple(index_value(m[1:]) for m in _INDEX_RE.findall(element))
    if ".n." in element or element.endswith(".n"):
        # A literal "n" segment is the table's placeholder, never a valid concrete name.
        return _UNDEFINED_MARK + element, ()
    if not indices:
        return element, ()
    return _INDEX_RE.sub(".n", element), indices


_normalise_cached = lru_cache(maxsize=32768)(_normalise)
