"""CSV downloads cannot run formulas in the reader's spreadsheet."""

from __future__ import annotations

import pytest
from flask import Flask

from lti_tool.web.csv_export import csv_response, safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.5", "-12.5"),
        ("12", "12"),
        (None, ""),
        (7, "7"),
        ("Police Ethics", "Police Ethics"),
    ],
)
def test_safe_cell(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_csv_response_streams_utf8_with_bom_and_safe_name() -> None:
    app = Flask(__name__)
    with app.test_request_context():
        response = csv_response([("a", "b"), ("=1", "Académie")], 'x"; evil.csv')
        body = response.get_data(as_text=True)
    assert body == "\ufeffa,b\r\n'=1,Académie\r\n"
    assert response.headers["Content-Disposition"] == 'attachment; filename="x___evil.csv"'
    assert response.mimetype == "text/csv"
