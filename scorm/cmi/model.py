"""The pure SCORM data model: ``get_value``, ``set_value`` and ``apply_commit``.

State document (plain JSON; what the storage layer persists per SCO attempt)::

    {
      "version": "1.2" | "2004",
      "values": {"cmi.core.lesson_status": "incomplete",
                 "cmi.interactions.0.id": "q1", ...},      # concrete element -> string
      "counts": {"cmi.interactions": 1,
                 "cmi.interactions.0.objectives": 2, ...}   # concrete array path -> _count
    }

``values`` holds only what was set (by the LMS at initialisation or by the SCO); defaults of the
element table are served for missing keys. Keywords (``_children``, ``_count``, ``_version``) are
never stored: they are derived from the tables and ``counts``. Functions never mutate their input:
they return a new document (``values``/``counts`` copied once, shallowly — all values are strings).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from scorm.cmi.datatypes import DECIMAL_PATTERN, DataType, calendar_ok, strip_lang
from scorm.cmi.errors import (
    ErrorKind,
    InvalidStateError,
    UnknownVersionError,
    Version,
    error_code,
    error_message,
    normalise_version,
)
from scorm.cmi.responses import RESPONSE_FORMATS, check_response
from scorm.cmi.tables import (
    _INDEX_RE,
    TABLE_12,
    TABLE_2004,
    Access,
    ArraySpec,
    ElementSpec,
    ModelTable,
    index_value,
)

logger = logging.getLogger(__name__)

K = ErrorKind
Validator = Callable[[str], "ErrorKind | None"]

_KEYWORDS: Final = frozenset({"_children", "_count", "_version"})
_NAV_VALID_PREFIXES: Final = (
    ("adl.nav.request_valid.choice.{target=", "adl.nav.request_valid.choice.{target=}"),
    ("adl.nav.request_valid.jump.{target=", "adl.nav.request_valid.jump.{target=}"),
)
_DECIMAL_RE: Final = re.compile(DECIMAL_PATTERN)
TRUNCATE_AT: Final = 64
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


# adl.data.n.store permissions (RTE 4th §4.3; CAM 4th adlcp:map readSharedData /
# writeSharedData): the LMS records each entry's permissions in the state document under this
# LMS-only key, which is not an element (a SCO can neither read nor write it). Its value holds
# "r" when the SCO may read the store and "w" when it may write it; absent = both.
SHARED_DATA_ACCESS: Final = "adl.data.{}.~access"


def _shared_data_access(values: Mapping[str, str], index: int) -> str:
    return values.get(SHARED_DATA_ACCESS.format(index), "rw")


# ---------------------------------------------------------------------------------------------
# State document helpers.
# ---------------------------------------------------------------------------------------------


def empty_state(version: str) -> dict[str, Any]:
    """A state document with nothing set (defaults of the tables apply)."""
    return {"version": normalise_version(version), "values": {}, "counts": {}}


def _unpack(state: Mapping[str, Any], version: str) -> tuple[Version, dict[str, str], dict]:
    v = normalise_version(version)
    try:
        values = state["values"]
        counts = state["counts"]
        doc_version = state["version"]
    except (KeyError, TypeError) as exc:
        raise InvalidStateError(
            "State document must be a mapping with 'version', 'values' and 'counts'."
        ) from exc
    try:
        same = normalise_version(doc_version) == v
    except UnknownVersionError as exc:
        raise InvalidStateError(f"State document has unknown version {doc_version!r}.") from exc
    if not same:
        raise InvalidStateError(f"State document is SCORM {doc_version}, not {v}.")
    if not isinstance(values, dict) or not isinstance(counts, dict):
        raise InvalidStateError("State 'values' and 'counts' must be objects.")
    return v, values, counts


def _pack(version: Version, values: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    return {"version": version, "values": values, "counts": counts}


# ---------------------------------------------------------------------------------------------
# Evaluated elements (SCORM 2004 4th §4.2.4.1 and §4.2.22.1).
# ---------------------------------------------------------------------------------------------


def evaluated_completion_status(values: Mapping[str, str]) -> str:
    """``cmi.completion_status`` as GetValue must report it (RTE 4th §4.2.4.1).

    With a ``completion_threshold``: ``progress_measure >= threshold`` → completed, below →
    incomplete, no progress measure → unknown. Without a threshold: the SCO's value (default
    unknown).
    """
    threshold = values.get("cmi.completion_threshold")
    if threshold is not None:
        progress = values.get("cmi.progress_measure")
        if progress is None:
            return "unknown"
        return "completed" if float(progress) >= float(threshold) else "incomplete"
    return values.get("cmi.completion_status", "unknown")


def evaluated_success_status(values: Mapping[str, str]) -> str:
    """``cmi.success_status`` as GetValue must report it (RTE 4th §4.2.22.1).

    With a ``scaled_passing_score``: ``score.scaled >= it`` → passed, below → failed, no
    scaled score → unknown. Without one: the SCO's value (default unknown).
    """
    passing = values.get("cmi.scaled_passing_score")
    if passing is not None:
        scaled = values.get("cmi.score.scaled")
        if scaled is None:
            return "unknown"
        return "passed" if float(scaled) >= float(passing) else "failed"
    return values.get("cmi.success_status", "unknown")


_EVALUATED_2004: Final[dict[str, Callable[[Mapping[str, str]], str]]] = {
    "cmi.completion_status": evaluated_completion_status,
    "cmi.success_status": evaluated_success_status,
}

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


# ---------------------------------------------------------------------------------------------
# Commit.
# ---------------------------------------------------------------------------------------------

_FIELD_PRIORITY: Final = {"id": 0, "type": 1}


def commit_order_key(element: str) -> str:
    """Sort key applying a commit in dependency order.

    Numeric segments sort numerically (so ``_count`` arrays fill by ascending index, and
    ``10`` after ``9``); within one array entry ``id`` comes first, then ``type``, then the
    rest by name (so ``correct_responses``/``learner_response`` follow the ``type``); keywords
    such as ``_count`` sort after all entries of their array.

    The key is one string (segments encoded as ``0<12-digit index>`` or
    ``1<priority><name>``, joined by NUL) so that sorting a commit compares flat strings.
    """
    if len(element) <= CACHEABLE_NAME_LENGTH:
        return _order_key_cached(element)
    return _order_key(element)


def _order_key(element: str) -> str:
    parts: list[str] = []
    for segment in element.split("."):
        if segment.isascii() and segment.isdigit():
            parts.append(f"0{int(segment):012d}")
        else:
            parts.append(f"1{_FIELD_PRIORITY.get(segment, 5)}{segment}")
    return "\x00".join(parts)


_order_key_cached = lru_cache(maxsize=32768)(_order_key)


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """One element of a commit that was not stored."""

    element: str
    value: str
    code: int
    kind: ErrorKind
    message: str


@dataclass(frozen=True, kw_only=True)
class CommitResult:
    """Outcome of :func:`apply_commit`.

    Attributes:
        state: the new state document (the input object itself when nothing changed).
        stored: elements whose new value was validated and stored, in application order.
        unchanged: elements that carried the value already stored (or a keyword's derived
            value), skipped without validation.
        rejected: elements refused, with the version's error code; not stored.
    """

    state: dict[str, Any]
    stored: tuple[str, ...]
    unchanged: int
    rejected: tuple[Rejection, ...]

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected

    @property
    def changed(self) -> bool:
        """True when at least one value was stored."""
        return bool(self.stored)


def _truncate(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= TRUNCATE_AT else text[:TRUNCATE_AT] + "…"


def apply_commit(
    state: Mapping[str, Any], changes: Mapping[str, Any] | Iterable[tuple[str, Any]], version: str
) -> CommitResult:
    """Re-validate and store the element/value pairs a browser committed.

    Elements are applied in :func:`commit_order_key` order (array entries by ascending index,
    ``id`` then ``type`` first inside an entry), each with the same rules as
    :func:`set_value`. Invalid values, read-only elements and keywords whose value differs from
    the derived one are rejected with the spec's code and not stored; valid ones are stored.

    Commit-protocol choice (not a SPEC COMPLIANCE matter, the spec has no commit body): a value
    equal to the one stored — including an RO element or keyword echoed back unchanged, as
    browser runtimes that post their whole data model do — is skipped as ``unchanged`` rather
    than reported, since the client did not change it.

    Args:
        state: the state document before the commit.
        changes: element → value pairs (a mapping, or pairs).
        version: "1.2" or "2004".

    Returns:
        A :class:`CommitResult`; ``state`` is copied at most once per commit.

    Raises:
        InvalidStateError: malformed state document.
        UnknownVersionError: unknown version.
    """
    v, values, counts = _unpack(state, version)
    items = changes.items() if isinstance(changes, Mapping) else changes
    decorated = [(commit_order_key(e), i, e, raw) for i, (e, raw) in enumerate(items)]
    decorated.sort()
    ordered = [(e, raw) for _, _, e, raw in decorated]
    new_values: dict[str, str] | None = None
    new_counts: dict[str, int] = counts
    stored: list[str] = []
    rejected: list[Rejection] = []
    unchanged = 0
    for element, raw in ordered:
        current = (new_values if new_values is not None else values).get(element)
        if current is not None and raw == current:
            unchanged += 1
            continue
        text = _coerce(raw)
        if text is None:
            kind: ErrorKind | None = K.TYPE_MISMATCH
        elif element.endswith(("._count", "._children", "._version")):
            derived, read_kind = _read(
                v, new_values if new_values is not None else values, new_counts, element
            )
            if read_kind is K.NO_ERROR and derived == text:
                unchanged += 1
                continue
            kind = _write(v, {}, {}, element, text)
        else:
            if new_values is None:
                new_values = dict(values)
                new_counts = dict(counts)
            kind = _write(v, new_values, new_counts, element, text)
            if kind is None:
                stored.append(element)
                continue
            if kind is K.READ_ONLY and _read(v, new_values, new_counts, element) == (
                text,
                K.NO_ERROR,
            ):
                unchanged += 1  # an RO default (not stored) echoed back unchanged
                continue
        if kind is not None:
            code = error_code(kind, v)
            rejected.append(
                Rejection(
                    element=element,
                    value=_truncate(raw),
                    code=code,
                    kind=kind,
                    message=error_message(code, v),
                )
            )
    if rejected:
        logger.info(
            "commit rejected %d of %d elements",
            len(rejected),
            len(ordered),
            extra={"action": "cmi_commit_rejected", "version": v},
        )
    if not stored:
        return CommitResult(
            state=state if isinstance(state, dict) else dict(state),
            stored=(),
            unchanged=unchanged,
            rejected=tuple(rejected),
        )
    return CommitResult(
        state=_pack(v, new_values or {}, new_counts),
        stored=tuple(stored),
        unchanged=unchanged,
        rejected=tuple(rejected),
    )
