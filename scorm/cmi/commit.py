"""Commit application: ``apply_commit`` re-validates what a browser committed.

Pure, stdlib-only; every element goes through the same rules as ``set_value``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, Final

from scorm.cmi.access import _coerce, _read, _write
from scorm.cmi.errors import ErrorKind, Version, error_code, error_message
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


class _Applied(Enum):
    """How one committed element ended when it was not rejected."""

    STORED = "stored"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class _Draft:
    """The values/counts a commit reads and writes; copied on the first write only."""

    values: dict[str, str]
    counts: dict[str, int]
    copied: bool = False

    def make_writable(self) -> None:
        if not self.copied:
            self.values = dict(self.values)
            self.counts = dict(self.counts)
            self.copied = True


def _truncate(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= TRUNCATE_AT else text[:TRUNCATE_AT] + "…"


def _in_commit_order(
    changes: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> list[tuple[str, Any]]:
    """The commit's pairs sorted by :func:`commit_order_key`, ties kept in input order."""
    items = changes.items() if isinstance(changes, Mapping) else changes
    decorated = [(commit_order_key(e), i, e, raw) for i, (e, raw) in enumerate(items)]
    decorated.sort()
    return [(e, raw) for _, _, e, raw in decorated]


def _apply_one(
    version: Version, draft: _Draft, element: str, raw: Any
) -> _Applied | ErrorKind | None:
    """Apply one committed pair to ``draft``: stored, unchanged, rejected (its kind) or None.

    The caller has skipped a value equal to the stored one. None (nothing to record) is what a
    keyword element yields should its write ever succeed.
    """
    text = _coerce(raw)
    if text is None:
        return K.TYPE_MISMATCH
    if element.endswith(("._count", "._children", "._version")):
        derived, read_kind = _read(version, draft.values, draft.counts, element)
        if read_kind is K.NO_ERROR and derived == text:
            return _Applied.UNCHANGED
        return _write(version, {}, {}, element, text)
    if not draft.copied:
        draft.make_writable()
    kind = _write(version, draft.values, draft.counts, element, text)
    if kind is None:
        return _Applied.STORED
    if kind is K.READ_ONLY and _read(version, draft.values, draft.counts, element) == (
        text,
        K.NO_ERROR,
    ):
        return _Applied.UNCHANGED  # an RO default (not stored) echoed back unchanged
    return kind


def _rejection(version: Version, element: str, raw: Any, kind: ErrorKind) -> Rejection:
    code = error_code(kind, version)
    return Rejection(
        element=element,
        value=_truncate(raw),
        code=code,
        kind=kind,
        message=error_message(code, version),
    )


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
    unchanged = 0
    total: int
    if isinstance(changes, Mapping):
        # Each element once, and a write sets only its own value: one that carries its stored
        # value is unchanged whatever else the commit holds, so it is counted here and only the
        # rest are sorted (a runtime that posts its whole model sends ~170 values to change ~7).
        total = len(changes)
        pending = [(e, raw) for e, raw in changes.items() if (current := values.get(e)) is None or raw != current]
        unchanged = total - len(pending)
        ordered = _in_commit_order(pending)
    else:  # pairs may name an element twice: each is judged against the value before it
        ordered = _in_commit_order(changes)
        total = len(ordered)
    draft = _Draft(values, counts)
    stored: list[str] = []
    rejected: list[Rejection] = []
    for element, raw in ordered:
        current = draft.values.get(element)
        if current is not None and raw == current:
            unchanged += 1  # the hot path of a resent model: no call, no validation
            continue
        result = _apply_one(v, draft, element, raw)
        if result is _Applied.STORED:
            stored.append(element)
        elif result is _Applied.UNCHANGED:
            unchanged += 1
        elif result is not None:
            rejected.append(_rejection(v, element, raw, result))
    if rejected:
        logger.info(
            "commit rejected %d of %d elements",
            len(rejected),
            total,
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
        state=_pack(v, draft.values, draft.counts),
        stored=tuple(stored),
        unchanged=unchanged,
        rejected=tuple(rejected),
    )
