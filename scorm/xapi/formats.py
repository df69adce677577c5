"""Lexical formats used by xAPI: IRIs, UUIDs, ISO 8601 timestamps and durations, language tags."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = [
    "is_duration",
    "is_iri",
    "is_language_tag",
    "is_mailto",
    "is_sha1_hex",
    "is_timestamp",
    "is_uuid",
    "parse_timestamp",
    "truncate_duration",
]

# "\Z", never "$": "$" also matches before a trailing newline ("http://x\n" would pass); re.ASCII
# where a pattern has \d: Python's \d takes any Unicode digit ("２０２６" would pass, and int() reads it)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# scheme ":" then at least one character, no whitespace or characters IRIs exclude.
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+\Z")
_EMAIL = re.compile(r"^mailto:[^@\s:]+@[^@\s]+\Z")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}\Z")
_LANG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?\Z|^[xX](?:-[A-Za-z0-9]{1,8})+\Z|^i-[A-Za-z]{2,8}\Z"
)
_TIMESTAMP = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?P<f>\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2}|[+-]\d{4}|[+-]\d{2})?\Z",
    re.ASCII,
)
_NUM = r"(?:\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"^P(?:(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?|{_NUM}W)\Z",
    re.ASCII,
)


def is_uuid(value: object) -> bool:
    """An RFC 4122 UUID in its 8-4-4-4-12 hexadecimal form."""
    return isinstance(value, str) and bool(_UUID.match(value))


# Verdicts on short strings that recur in every statement (verb and activity IRIs, homePages,
# language tags), reused: a dict look-up instead of a regex. Bounded in entries and in length.
_SEEN_MAX, _SEEN_LEN = 4096, 512
_IRI_SEEN: dict[str, bool] = {}
_LANG_SEEN: dict[str, bool] = {}


def _judged(value: str, pattern: re.Pattern[str], seen: dict[str, bool]) -> bool:
    verdict = seen.get(value)
    if verdict is None:
        verdict = bool(pattern.match(value))
        if len(value) <= _SEEN_LEN:
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[value] = verdict
    return verdict


def is_iri(value: object) -> bool:
    """An absolute IRI: a scheme, a colon and no whitespace."""
    return isinstance(value, str) and _judged(value, _IRI, _IRI_SEEN)


def is_mailto(value: object) -> bool:
    """A ``mailto:`` IRI holding one email address."""
    return isinstance(value, str) and bool(_EMAIL.match(value))


def is_sha1_hex(value: object) -> bool:
    """40 hexadecimal digits."""
    return isinstance(value, str) and bool(_SHA1.match(value))


def is_language_tag(value: object) -> bool:
    """An RFC 5646 language tag (well-formed, not checked against the registry)."""
    return isinstance(value, str) and _judged(value, _LANG, _LANG_SEEN)


def is_duration(value: object) -> bool:
    """An ISO 8601 duration (``PnYnMnDTnHnMnS`` or ``PnW``) with at least one component."""
    if not isinstance(value, str) or not _DURATION.match(value):
        return False
    return value not in ("P", "PT") and not value.endswith("T")


_SECONDS = re.compile(r"(\d+)[.,](\d+)S\Z", re.ASCII)


def truncate_duration(value: str) -> str:
    """A duration with its seconds truncated to 0.01 s (xAPI 2.0 compares durations at that precision)."""
    m = _SECONDS.search(value)
    if not m or len(m.group(2)) <= 2:
        return value
    return value[: m.start()] + f"{m.group(1)}.{m.group(2)[:2]}S"


# the form this LRS and most clients write (``2026-01-02T03:04:05.678Z``): parsed by slicing
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)


def parse_timestamp(value: object) -> datetime | None:
    """The instant an ISO 8601 timestamp names (UTC when it has no offset), or None when malformed."""
    return _parse(value)[0]


def _parse(value: object) -> tuple[datetime | None, str | None]:
    """The instant (None when malformed) and the offset as written (None when absent or malformed)."""
    if not isinstance(value, str):
        return None, None
    if len(value) == 24 and _CANONICAL.fullmatch(value):
        try:
            return datetime(
                int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), int(value[14:16]),
                int(value[17:19]), int(value[20:23]) * 1000, tzinfo=UTC,
            ), "Z"  # fmt: skip
        except ValueError:
            return None, None
    m = _TIMESTAMP.match(value)
    if not m:
        return None, None
    tz = m.group("tz")
    offset = timedelta(0)
    if tz and tz != "Z":
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return None, None
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1)
    frac = m.group("f") or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        local = datetime(
            int(m.group("y")),
            int(m.group("mo")),
            int(m.group("d")),
            int(m.group("h")),
            int(m.group("mi")),
            int(m.group("s")),
            micro,
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None, None
    return local.astimezone(UTC), tz


def is_timestamp(value: object, *, require_offset: bool = False, allow_negative_zero: bool = True) -> bool:
    """An ISO 8601 date-time.

    Args:
        require_offset: refuse a timestamp without ``Z`` or an offset.
        allow_negative_zero: accept the ``-00:00`` offset (xAPI 2.0 forbids it).
    """
    moment, tz = _parse(value)
    if moment is None:
        return False
    if require_offset and not tz:
        return False
    return allow_negative_zero or tz not in ("-00:00", "-0000", "-00")
