"""Time arithmetic of SCORM 1.2 CMITimespan and SCORM 2004 timeinterval."""

from __future__ import annotations

import pytest

from scorm.cmi.durations import (
    DurationError,
    add_spans,
    format_duration_2004,
    format_timespan_12,
    parse_duration_2004,
    parse_timespan_12,
    span_seconds,
)

H = 360_000  # centiseconds per hour

PARSE_12 = [
    ("00:00:00", 0),
    ("0000:00:00.00", 0),
    ("00:00:01", 100),
    ("00:00:01.5", 150),
    ("00:00:01.05", 105),
    ("00:01:00", 6000),
    ("01:00:00", H),
    ("0001:30:05.5", H + 30 * 6000 + 550),
    ("99:59:59.99", 99 * H + 59 * 6000 + 5999),
    ("100:00:00", 100 * H),
    ("9999:59:59.99", 9999 * H + 59 * 6000 + 5999),
    # lenient: minutes/seconds above 59 (Rustici's 1.2 formatter writes 9999:99:99.99)
    ("00:60:00", H),
    ("00:00:75", 7500),
    ("9999:99:99.99", 9999 * H + 99 * 6000 + 9999),
]


@pytest.mark.parametrize(("text", "cs"), PARSE_12)
def test_parse_timespan_12(text, cs):
    assert parse_timespan_12(text) == cs


@pytest.mark.parametrize(
    "text",
    ["", "1:00:00", "00:0:00", "00:00:0", "00:00:00.123", "PT1H", "10000:00:00", "00:00", "a"],
)
def test_parse_timespan_12_invalid(text):
    with pytest.raises(DurationError) as info:
        parse_timespan_12(text)
    assert info.value.code == "invalid_duration"


FORMAT_12 = [
    (0, "0000:00:00.00"),
    (1, "0000:00:00.01"),
    (150, "0000:00:01.50"),
    (6000, "0000:01:00.00"),
    (H, "0001:00:00.00"),
    (123 * H + 4 * 6000 + 505, "0123:04:05.05"),
    (9999 * H + 59 * 6000 + 5999, "9999:59:59.99"),
    (10_000 * H, "9999:59:59.99"),  # clamped: the type cannot express more
]


@pytest.mark.parametrize(("cs", "text"), FORMAT_12)
def test_format_timespan_12(cs, text):
    assert format_timespan_12(cs) == text


PARSE_2004 = [
    ("PT0S", 0),
    ("P0D", 0),
    ("PT1S", 100),
    ("PT1.5S", 150),
    ("PT1.05S", 105),
    ("PT1.234S", 123),  # rounded half up to centiseconds
    ("PT1.235S", 124),
    ("PT0.005S", 1),
    ("PT0.004S", 0),
    ("PT1M", 6000),
    ("PT90M", 90 * 6000),
    ("PT1H", H),
    ("PT100H", 100 * H),
    ("P1D", 24 * H),
    ("P1DT1H", 25 * H),
    ("P1M", 30 * 24 * H),  # convention: a month is 30 days
    ("P1Y", 365 * 24 * H),  # convention: a year is 365 days
    ("P1Y2M3DT4H5M6.78S", (365 + 60 + 3) * 24 * H + 4 * H + 5 * 6000 + 678),
    ("PT1H30M5.5S", H + 30 * 6000 + 550),
    # lenient: "P<n>S" without T, as Rustici's 2004 formatter writes a zero session ("P0S")
    ("P0S", 0),
    ("P12.5S", 1250),
]


@pytest.mark.parametrize(("text", "cs"), PARSE_2004)
def test_parse_duration_2004(text, cs):
    assert parse_duration_2004(text) == cs


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "1H",
        "PT1H30",
        "P1DT",
        "-PT1H",
        "PT1.5M",
        "P1H",
        "pt1h",
        "PT1,5S",
        "PS",
        "P1D5S",
    ],
)
def test_parse_duration_2004_invalid(text):
    with pytest.raises(DurationError):
        parse_duration_2004(text)


FORMAT_2004 = [
    (0, "PT0H0M0S"),
    (1, "PT0H0M0.01S"),
    (150, "PT0H0M1.5S"),
    (105, "PT0H0M1.05S"),
    (6000, "PT0H1M0S"),
    (H, "PT1H0M0S"),
    (25 * H + 61 * 100, "PT25H1M1S"),
    (12_345 * H, "PT12345H0M0S"),
]


@pytest.mark.parametrize(("cs", "text"), FORMAT_2004)
def test_format_duration_2004(cs, text):
    assert format_duration_2004(cs) == text
    assert parse_duration_2004(text) == cs  # round trip


@pytest.mark.parametrize("formatter", [format_timespan_12, format_duration_2004])
def test_negative_durations_refused(formatter):
    with pytest.raises(DurationError):
        formatter(-1)


ADD = [
    ("1.2", "0000:00:00.00", "00:00:05.5", "0000:00:05.50"),
    ("1.2", "0000:59:59.99", "00:00:00.01", "0001:00:00.00"),
    ("1.2", "0099:30:00", "01:45:00", "0101:15:00.00"),  # past 99 hours
    ("1.2", "9999:00:00", "02:00:00", "9999:59:59.99"),  # clamped
    ("2004", "PT0H0M0S", "PT1H30M5.5S", "PT1H30M5.5S"),
    ("2004", "PT59M59.99S", "PT0.01S", "PT1H0M0S"),
    ("2004", "P1D", "PT1H", "PT25H0M0S"),
    ("2004", "PT1.234S", "PT1.234S", "PT0H0M2.46S"),  # each rounded first
    ("2004", "PT100H", "PT100H", "PT200H0M0S"),
]


@pytest.mark.parametrize(("version", "first", "second", "total"), ADD)
def test_add_spans(version, first, second, total):
    assert add_spans(first, second, version) == total


def test_span_seconds():
    assert span_seconds("PT1M1.5S", "2004") == 61.5
    assert span_seconds("00:01:01.5", "1.2") == 61.5
