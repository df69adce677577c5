"""parse_timestamp: the sliced fast path for the canonical form agrees with the general parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scorm.xapi.formats import _TIMESTAMP, is_timestamp, parse_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T10:00:00.000Z",
        "2026-12-31T23:59:59.999Z",
        "2024-02-29T00:00:00.001Z",
        "2026-02-30T10:00:00.000Z",  # no such day
        "2026-12-01T24:00:00.000Z",  # no such hour
        "2026-12-01T10:00:60.000Z",
        "2026-13-01T10:00:00.000Z",
        "2026-12-01 10:00:00.000Z",  # not the T form
        "2026-12-01T10:00:00,000Z",
    ],
)
def test_canonical_form_matches_the_general_parser(value: str) -> None:
    m = _TIMESTAMP.match(value)
    expected = None
    if m:
        try:
            expected = datetime(
                int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]),
                int((m["f"][1:] + "000000")[:6]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            expected = None
    got = parse_timestamp(value)
    assert got == expected
    assert got is None or got.tzinfo is UTC
    assert is_timestamp(value) is (expected is not None)


def test_offsets_are_still_judged() -> None:
    assert parse_timestamp("2026-12-01T10:00:00.000+01:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert not is_timestamp("2026-12-01T10:00:00.000-00:00", allow_negative_zero=False)
    assert is_timestamp("2026-12-01T10:00:00.000Z", require_offset=True, allow_negative_zero=False)
    assert not is_timestamp("2026-12-01T10:00:00.000", require_offset=True)
    assert parse_timestamp("2026-12-01T10:00:00.000+24:00") is None
