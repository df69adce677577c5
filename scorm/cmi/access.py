"""GetValue / SetValue on a state document: ``get_value``, ``get_value_kind``, ``set_value``.

``_read`` and ``_write`` are the per-element rules that ``scorm.cmi.commit`` reuses. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scorm.cmi.errors import ErrorKind, Version, error_code
from scorm.cmi.paths import _KEYWORDS, _PLANS, _TABLES, K, _template, normalise_element
from scorm.cmi.responses import RESPONSE_FORMATS, check_response
from scorm.cmi.state import _EVALUATED_2004, _pack, _shared_data_access, _unpack
from scorm.cmi.tables import Access, ElementSpec, ModelTable

# ---------------------------------------------------------------------------------------------
# Get.
# ---------------------------------------------------------------------------------------------


def _keyword_parent_kind(table: ModelTable, path: str, keyword: str) -> ErrorKind:
    """Error for a keyword the table does not define on ``path``'s parent."""
    parent = path.rsplit(".", 1)[0]
    if parent in table.elements or parent in table.containers:
        if keyword == "_children":
            return K.NO_CHILDREN
        if keyword == "_count":
            return K.NOT_AN_ARRAY
    return K.UNDEFINED_ELEMENT


def _read(
    version: Version, values: Mapping[str, str], counts: Mapping[str, int], element: str
) -> tuple[str, ErrorKind]:
    table = _TABLES[version]
    if not element:
        return "", K.GENERAL_GET_FAILURE if version == "2004" else K.GENERAL_ARGUMENT
    path, indices = normalise_element(element)
    plan = _PLANS[version].get(path)
    if plan is None:
        last = path.rsplit(".", 1)[-1]
        if last in _KEYWORDS:
            return "", _keyword_parent_kind(table, path, last)
        return "", K.UNDEFINED_ELEMENT
    spec = plan.spec
    if spec.access is Access.WO:
        return "", K.WRITE_ONLY
    for template, used, _ in plan.arrays:
        if indices[used] >= counts.get(template.format(*indices[:used]), 0):
            return "", K.GENERAL_GET_FAILURE
    if spec.keyword is not None:
        if spec.keyword == "_count":
            template, used = _template(spec.array or "")
            return str(counts.get(template.format(*indices[:used]), 0)), K.NO_ERROR
        return spec.keyword_value or "", K.NO_ERROR
    if path == "adl.data.n.store":
        # RTE 4th §4.3: readSharedData="false" makes the store write-only (405); a store
        # nothing (or only "") was written to is not initialised (403).
        if "r" not in _shared_data_access(values, indices[0]):
            return "", K.WRITE_ONLY
        if not values.get(element):
            return "", K.VALUE_NOT_INITIALIZED
    if version == "2004":
        evaluate = _EVALUATED_2004.get(path)
        if evaluate is not None:
            return evaluate(values), K.NO_ERROR
    value = values.get(element)
    if value is None:
        value = spec.default
    if value is None:
        if version == "1.2":
            return "", K.NO_ERROR  # RTE 1.2: an element without a value reads as ""
        return "", K.VALUE_NOT_INITIALIZED
    return value, K.NO_ERROR


def get_value(state: Mapping[str, Any], element: str, version: str) -> tuple[str, int]:
    """GetValue / LMSGetValue on a state document.

    Args:
        state: the state document (see module docstring).
        element: a concrete element name, e.g. ``"cmi.interactions.0.id"``.
        version: "1.2" or "2004".

    Returns:
        ``(value, error_code)``; on error the value is ``""`` and the code is the version's
        (e.g. 1.2 404 / 2004 405 for a write-only element).

    Raises:
        InvalidStateError: malformed state document.
        UnknownVersionError: unknown version.
    """
    v, values, counts = _unpack(state, version)
    value, kind = _read(v, values, counts, element)
    return value, error_code(kind, v)


def get_value_kind(state: Mapping[str, Any], element: str, version: str) -> tuple[str, ErrorKind]:
    """Like :func:`get_value` but returns the symbolic :class:`ErrorKind`."""
    v, values, counts = _unpack(state, version)
    return _read(v, values, counts, element)


# ---------------------------------------------------------------------------------------------
# Set.
# ---------------------------------------------------------------------------------------------


def _coerce(value: Any) -> str | None:
    """JSON commit bodies sometimes carry numbers; strings pass, ints/finite floats convert."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        return None if "e" in text or "E" in text else text
    return None


def _write(
    version: Version,
    values: dict[str, str],
    counts: dict[str, int],
    element: str,
    value: str,
) -> ErrorKind | None:
    """Validate and store one element into ``values``/``counts`` (mutated in place).

    Nothing is mutated unless the result is None (success).
    """
    if not element:
        return K.GENERAL_SET_FAILURE if version == "2004" else K.GENERAL_ARGUMENT
    path, indices = normalise_element(element)
    plan = _PLANS[version].get(path)
    if plan is None:
        last = path.rsplit(".", 1)[-1]
        if last in _KEYWORDS:
            table = _TABLES[version]
            parent = path.rsplit(".", 1)[0]
            if parent in table.elements or parent in table.containers:
                return K.KEYWORD_READ_ONLY
        return K.UNDEFINED_ELEMENT
    spec = plan.spec
    if spec.keyword is not None:
        return K.KEYWORD_READ_ONLY
    if spec.access is Access.RO:
        return K.READ_ONLY
    if path == "adl.data.n.store" and "w" not in _shared_data_access(values, indices[0]):
        return K.READ_ONLY  # RTE 4th §4.3: writeSharedData="false" (404)

    # Array indices (RTE 1.2 §3.4.3 / 2004 4th §4.1.1.3): n <= _count, n == _count appends.
    creating: list[tuple[str, int]] = []
    last_level = len(plan.arrays) - 1
    for level, (template, used, array) in enumerate(plan.arrays):
        key = template.format(*indices[:used]) if used else template
        count = counts.get(key, 0)
        index = indices[used]
        if index > count:
            return K.GENERAL_SET_FAILURE  # 2004 351 (gap in the array) / 1.2 201
        if index == count:
            if not array.sco_creatable or index >= array.max_count:
                return K.GENERAL_SET_FAILURE
            if version == "2004" and (level < last_level or not spec.creates):
                # 2004: the entry must exist (its identifier set first), RTE 4th §4.1.1.3.
                return K.DEPENDENCY_NOT_ESTABLISHED
            creating.append((key, index + 1))
    for template, used in plan.requires:
        if (template.format(*indices[:used]) if used else template) not in values:
            return K.DEPENDENCY_NOT_ESTABLISHED

    kind = plan.validate(value)
    if kind is not None:
        return kind

    if plan.cross:
        kind = _check_2004_rules(spec, values, counts, element, value, indices)
        if kind is not None:
            return kind

    values[element] = value
    for key, new_count in creating:
        counts[key] = new_count
    return None


def _check_2004_rules(
    spec: ElementSpec,
    values: Mapping[str, str],
    counts: Mapping[str, int],
    element: str,
    value: str,
    indices: tuple[int, ...],
) -> ErrorKind | None:
    """Cross-element rules of SCORM 2004 (identifier uniqueness, response formats)."""
    path = spec.path
    if path == "cmi.objectives.n.id":
        # RTE 4th §4.2.17: unique within cmi.objectives, immutable once set (351).
        current = values.get(element)
        if current is not None and current != value:
            return K.GENERAL_SET_FAILURE
        own = indices[0]
        for j in range(counts.get("cmi.objectives", 0)):
            if j != own and values.get(f"cmi.objectives.{j}.id") == value:
                return K.GENERAL_SET_FAILURE
        return None
    if path == "cmi.interactions.n.objectives.n.id":
        # RTE 4th §4.2.9: objective ids unique within one interaction (351).
        i, own = indices
        for j in range(counts.get(f"cmi.interactions.{i}.objectives", 0)):
            if j != own and values.get(f"cmi.interactions.{i}.objectives.{j}.id") == value:
                return K.GENERAL_SET_FAILURE
        return None
    if spec.response is not None:
        itype = values.get(f"cmi.interactions.{indices[0]}.type", "")
        fmt = RESPONSE_FORMATS.get(itype)
        if fmt is None:
            return K.DEPENDENCY_NOT_ESTABLISHED
        if spec.response == "pattern":
            i, own = indices
            if own >= fmt.max_patterns:
                return K.GENERAL_SET_FAILURE  # e.g. a 2nd pattern for true-false
            if not check_response(itype, value, is_pattern=True):
                return K.TYPE_MISMATCH
            if fmt.unique_patterns:
                for j in range(counts.get(f"cmi.interactions.{i}.correct_responses", 0)):
                    key = f"cmi.interactions.{i}.correct_responses.{j}.pattern"
                    if j != own and values.get(key) == value:
                        return K.GENERAL_SET_FAILURE
            return None
        if not check_response(itype, value, is_pattern=False):
            return K.TYPE_MISMATCH
    return None


def set_value(
    state: Mapping[str, Any], element: str, value: Any, version: str
) -> tuple[dict[str, Any], int]:
    """SetValue / LMSSetValue on a state document, without mutating it.

    Args:
        state: the state document.
        element: concrete element name.
        value: the value (a string; ints and finite floats are converted).
        version: "1.2" or "2004".

    Returns:
        ``(new_state, 0)`` on success; ``(state, error_code)`` — the input unchanged — on
        failure.

    Raises:
        InvalidStateError: malformed state document.
        UnknownVersionError: unknown version.
    """
    v, values, counts = _unpack(state, version)
    text = _coerce(value)
    if text is None:
        return dict(state), error_code(K.TYPE_MISMATCH, v)
    new_values = dict(values)
    new_counts = dict(counts)
    kind = _write(v, new_values, new_counts, element, text)
    if kind is not None:
        return dict(state), error_code(kind, v)
    return _pack(v, new_values, new_counts), 0
