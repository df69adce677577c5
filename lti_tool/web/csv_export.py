"""CSV downloads: streamed, UTF-8 with a byte-order mark, and safe to open in a spreadsheet.

Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) get a leading apostrophe, so a course title or a learner name cannot run
a formula on the reader's machine (CSV injection). Numbers are written as plain digits.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: object) -> str:
    """The cell's text, neutralised when a spreadsheet would evaluate it (negative numbers stay)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff"
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> Response:
    """A streamed ``text/csv`` attachment named ``filename`` (ASCII letters, digits, ``-_.``)."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "export.csv"
    response = Response(stream_with_context(_lines(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
