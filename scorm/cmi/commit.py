"""Commit application: ``apply_commit`` re-validates what a browser committed.

Pure, stdlib-only; every element goes through the same rules as ``set_value``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from scorm.cmi.access import _coerce, _read, _write
from scorm.cmi.errors import ErrorKind, error_code, error_message
from scorm.cmi.paths import CACHEABLE_NAME_LENGTH, K
from scorm.cmi.state import _pack, _unpack

# Named after the module apply_commit lived in, so logging configuration keeps matching it.
logger = logging.getLogger("scorm.cmi.model")

TRUNCATE_AT: Final = 64

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
