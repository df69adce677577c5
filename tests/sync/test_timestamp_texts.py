"""The remembered timestamp texts (issue 16: grade delivery CPU) are exactly what formatting the
value gives: the UTC text for any offset of the same instant, naive values still refused, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lti_tool.storage.outbox import statements
from lti_tool.storage.outbox.statements import pg_array_literal
from sync import model
from sync.errors import NaiveDatetimeError
from sync.model import format_timestamp

AT = datetime(2026, 12, 5, 8, 30, 1, tzinfo=UTC)


def test_score_timestamp_text_is_the_utc_one_for_every_offset_of_the_instant() -> None:
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    assert format_timestamp(plus_two) == "2026-12-05T08:30:01.000+00:00"  # first seen with +02:00
    assert format_timestamp(AT) == "2026-12-05T08:30:01.000+00:00"
    assert format_timestamp(AT + timedelta(milliseconds=250)) == "2026-12-05T08:30:01.250+00:00"
    with pytest.raises(NaiveDatetimeError):
        format_timestamp(AT.replace(tzinfo=None))  # the same wall time, naive: refused, not remembered


def test_remembered_texts_stay_bounded() -> None:
    for n in range(5000):
        instant = AT + timedelta(seconds=n)
        assert format_timestamp(instant) == instant.isoformat(timespec="milliseconds")
        assert pg_array_literal([instant]) == '{"' + instant.isoformat() + '"}'
    assert 0 < len(model._FORMATTED) <= 4096
    assert 0 < len(statements._ISO) <= 4096


def test_array_literal_of_a_remembered_instant_is_the_same_timestamptz() -> None:
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    (text,) = pg_array_literal([AT]).strip("{}").split(",")
    again = pg_array_literal([plus_two]).strip("{}")
    assert datetime.fromisoformat(again.strip('"')) == datetime.fromisoformat(text.strip('"')) == plus_two
    with pytest.raises(ValueError):
        pg_array_literal([AT.replace(tzinfo=None)])
