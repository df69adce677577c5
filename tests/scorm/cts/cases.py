"""Load and decode ADL's SCORM 2004 4th Edition LMS run-time test cases (the CTS data).

The data lives outside the repository in ``../shared/fixtures/adl-cts/`` (see its
``SOURCES.md``); it is read, never copied. A test case file is a list of activity visits in the
order the LMS must deliver them; each visit holds the test SCO's API calls
(``CALL->ARGUMENT->EXPECTED->ERROR``, abbreviated with ``resources/Commands.properties``), the
UI questions the tester answers (``UIQ``/``UIA``) and the learner's own action (``CUI``).

Decoding follows what ADL's suite does with each line (``LMSParser``, ``Command``,
``TestCaseEvaluator`` in ``adlnet/SCORM-2004-4ed-Test-Suite``), re-stated here:

* a GET element is the ``~``-separated abbreviations expanded and joined with ``.``; a
  ``tar`` part formats ``{target=<next part>}``;
* a SET argument ``elem!value`` has its element expanded the same way and the value expanded
  (an unknown abbreviation stands for itself);
* ``&id&`` in an element is replaced by the index of the objective (or ``adl.data`` entry) with
  that id, found through ``_count``/``n.id`` GETs like the test SCO does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

GROUPS = ("API", "CM", "CO", "CT", "DDM", "DMB", "DMI", "MS", "OB", "RU", "SX", "T")


def cts_dir() -> Path:
    """The ADL CTS data folder; raises when it is missing (the suite must not silently pass)."""
    here = Path(__file__).resolve()
    base = (here.parents[3] / ".." / "shared" / "fixtures" / "adl-cts").resolve()
    if not (base / "SOURCES.md").is_file() or not (base / "TestCases").is_dir():
        raise FileNotFoundError(
            f"ADL CTS data not found at {base}: the suite reads ../shared/fixtures/adl-cts/ "
            "relative to the repository root"
        )
    return base


def group_of(case_id: str) -> str:
    """``"OB-03b"`` -> ``"OB"``; ``"DMB"`` -> ``"DMB"``."""
    return case_id.split("-", 1)[0]


# --- Java properties ------------------------------------------------------------------------


def _unescape(text: str) -> str:
    r"""``\uXXXX`` escapes (ADL's generator decodes only these; other backslashes stay)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text) + 0 and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(ch)
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@cache
def commands() -> dict[str, str]:
    """``resources/Commands.properties`` (a standard Java properties file)."""
    result: dict[str, str] = {}
    lines = (cts_dir() / "resources" / "Commands.properties").read_text("latin-1").splitlines()
    buf = ""
    for raw in lines:
        line = buf + raw.lstrip() if buf else raw.strip()
        if line.endswith("\\") and not line.endswith("\\\\"):
            buf = line[:-1]
            continue
        buf = ""
        if not line or line[0] in "#!":
            continue
        m = re.match(r"^((?:\\.|[^=:\s])+)\s*[=:]?\s*(.*)$", line)
        if m:
            result[_unescape(m.group(1))] = _unescape(m.group(2))
    return result


def expand(key: str, *args: str) -> str:
    """Expand an abbreviation; an unknown one stands for itself (ADL's ``Resources.getString``)."""
    value = commands().get(key)
    if value is None:
        return key
    return value.replace("%s", args[0]) if args else value


# --- calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One API call of a test SCO and what the LMS must answer."""

    method: str  # Initialize Terminate Commit GetValue SetValue GetLastError GetErrorString GetDiagnostic compareObjIds
    element: str = ""  # GetValue/SetValue element, or the parameter of the other calls
    value: str = ""  # SetValue value
    expected: str = ""  # expected return value (decoded)
    error: str = "0"  # expected GetLastError after the call
    raw: str = ""  # the line as written, for messages
    objective_ids: tuple[str, ...] = ()  # compareObjIds: the expected ids


_METHODS = {
    "I": "Initialize",
    "T": "Terminate",
    "C": "Commit",
    "GET": "GetValue",
    "SET": "SetValue",
    "GES": "GetErrorString",
    "GLE": "GetLastError",
    "GeDi": "GetDiagnostic",
    "COI": "compareObjIds",
}


def _get_element(param: str) -> str:
    if "~" not in param:
        return param
    parts = param.split("~")
    if len(parts) > 1 and parts[1] == "INTR" and "!" in param:
        parts = [p.split("!", 1)[0] for p in parts]
    if len(parts) == 6 and "a~n~r" in param:
        return ".".join([expand(p) for p in parts[:4]] + [expand(parts[4], parts[5])])
    return ".".join(expand(p) for p in parts)


def _final(last: str) -> tuple[str, str]:
    if last.endswith("!") and last.index("!") == len(last) - 1:
        return last[:-1], ""
    head, _, tail = last.partition("!")
    return head, tail


def _set_argument(param: str) -> tuple[str, str]:
    parts = param.split("~")
    start = expand(parts[0])
    if len(parts) == 1:  # e.g. "!test": ADL's SCO splits "<element>!<value>" at the first "!"
        head, _, tail = start.partition("!")
        return head, tail
    if len(parts) == 2:
        head, tail = _final(parts[1])
        return f"{start}.{expand(head)}", expand(tail)
    if len(parts) == 3:
        head, tail = _final(parts[2])
        return f"{start}.{expand(parts[1])}.{expand(head)}", expand(tail)
    if len(parts) == 4:
        head, tail = _final(parts[3])
        return f"{start}.{expand(parts[1])}.{parts[2]}.{expand(head)}", expand(tail)
    if len(parts) == 5:
        if "a~n~r" in param:
            name, _, fmt = parts[2].partition("!")
            return f"{start}.{expand(parts[1])}.{expand(name)}", expand(fmt, parts[3]) + expand(parts[4])
        name, _, val = parts[4].partition("!")
        return f"{start}.{expand(parts[1])}.{expand(parts[2])}.{expand(parts[3])}.{expand(name)}", expand(val)
    if len(parts) == 6:
        head, tail = _final(parts[5])
        middle = ".".join(expand(p) for p in parts[1:5])
        return f"{start}.{middle}.{expand(head)}", expand(tail)
    return start, ""


def decode(line: str) -> Call | None:
    """Decode one ``commands.<k>`` value; ``None`` for a line ADL's parser ignores.

    (DMI.properties ``Act3V2.commands.47`` lacks its ``GET->``: ADL's ``LMSParser`` skips a
    line whose call it does not know, and so do we.)
    """
    parts = line.split("->")
    code = parts[0]
    method = _METHODS.get(code)
    if method is None:
        return None
    if code == "COI":
        ids = tuple(parts[1].split(",")) if len(parts) > 1 else ()
        return Call(method, element=parts[1] if len(parts) > 1 else "", raw=line, objective_ids=ids)
    if code == "T":
        return Call(method, raw=line, expected="", error="")
    if code == "GLE":
        return Call(method, expected=parts[2], error=parts[3], raw=line)
    if code in ("GES", "GeDi"):
        return Call(method, element=parts[1], expected=parts[2], error=parts[3], raw=line)
    error = parts[-1]
    middle = parts[2:-1]
    if code == "SET":
        element, value = _set_argument(parts[1])
        expected = expand(middle[-1]) if middle else ""
        return Call(method, element=element, value=value, expected=expected, error=error, raw=line)
    element = _get_element(parts[1]) if len(parts) > 1 else ""
    expected = ""
    for piece in middle:
        mapped = expand(piece)
        expected = piece if (mapped == "" and piece != "") else mapped
    return Call(method, element=element, expected=expected, error=error, raw=line)


# --- test cases -----------------------------------------------------------------------------


@dataclass
class Visit:
    """One delivery of one activity (``Act<N>V<M>``)."""

    key: str  # "Act3V1"
    activity: str  # "3" (the test SCO's act= launch parameter)
    calls: list[Call] = field(default_factory=list)
    ui_questions: tuple[str, ...] = ()
    ui_answers: tuple[str, ...] = ()
    cui: str = ""


@dataclass
class TestCase:
    id: str
    info: dict[str, str]
    visits: list[Visit]

    @property
    def group(self) -> str:
        return group_of(self.id)

    @property
    def package_ids(self) -> tuple[str, ...]:
        base = cts_dir() / "Courses"
        if (base / f"LMSTestPackage_{self.id}").is_dir():
            return (self.id,)
        return tuple(sorted(p.name.removeprefix("LMSTestPackage_") for p in base.glob(f"LMSTestPackage_{self.id}?")))


def _logical_lines(text: str) -> list[str]:
    """Lines as ADL's generator reads them: a trailing backslash joins the next line verbatim."""
    raw = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(raw):
        line = raw[i]
        i += 1
        while line.endswith("\\") and i < len(raw):
            line = line[:-1] + raw[i]
            i += 1
        out.append(line)
    return out


def load_case(case_id: str) -> TestCase:
    text = (cts_dir() / "TestCases" / f"{case_id}.properties").read_text("latin-1")
    info: dict[str, str] = {}
    visits: list[Visit] = []
    for line in _logical_lines(text):
        if "####" in line or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        m = re.match(r"^Act([^V.]*)V(\d+)\.(.*)$", key)
        if m is None:
            info[key] = value
            continue
        visit_key = f"Act{m.group(1)}V{m.group(2)}"
        if not visits or visits[-1].key != visit_key:
            visits.append(Visit(visit_key, m.group(1)))
        visit = visits[-1]
        what = m.group(3)
        if what == "UIQ":
            visit.ui_questions = tuple(value.split("~")) if value else ()
        elif what == "UIA":
            visit.ui_answers = tuple(value.split("~")) if value else ()
        elif what == "CUI":
            visit.cui = value.strip()
        elif what.startswith("commands"):
            call = decode(_unescape(value))
            if call is not None:
                visit.calls.append(call)
    return TestCase(case_id, info, visits)


def case_ids() -> list[str]:
    return sorted(p.stem for p in (cts_dir() / "TestCases").glob("*.properties"))
