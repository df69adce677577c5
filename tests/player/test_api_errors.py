"""The SCORM API objects in the browser: state machine and error codes, value validation.

Each case runs a list of API calls on a fresh runtime (``cbsiRuntime.start``) inside the real
player page and compares every return value and ``GetLastError`` code. Codes: SCORM 1.2 RTE
§3.3.3; SCORM 2004 4th ed. RTE §3.1.7.6 (table 3.1.7a).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

_case_ids = itertools.count()

# (method, args, expected return or None to skip, expected GetLastError code)
Step = tuple[str, tuple[Any, ...], str | None, int]

INIT_12: Step = ("LMSInitialize", ("",), "true", 0)
INIT_04: Step = ("Initialize", ("",), "true", 0)

CASES_12: list[tuple[str, dict[str, str], list[Step]]] = [
    ("get before init -> 301", {}, [("LMSGetValue", ("cmi.core.lesson_status",), "", 301)]),
    ("set before init -> 301", {}, [("LMSSetValue", ("cmi.core.lesson_location", "1"), "false", 301)]),
    ("commit before init -> 301", {}, [("LMSCommit", ("",), "false", 301)]),
    ("finish before init -> 301", {}, [("LMSFinish", ("",), "false", 301)]),
    ("initialize twice -> 101", {}, [INIT_12, ("LMSInitialize", ("",), "false", 101)]),
    ("initialize with argument -> 201", {}, [("LMSInitialize", ("x",), "false", 201)]),
    ("read default status", {}, [INIT_12, ("LMSGetValue", ("cmi.core.lesson_status",), "not attempted", 0)]),
    ("read unset location is empty, no error", {}, [INIT_12, ("LMSGetValue", ("cmi.core.lesson_location",), "", 0)]),
    ("set RO student_id -> 403", {}, [INIT_12, ("LMSSetValue", ("cmi.core.student_id", "x"), "false", 403)]),
    ("get WO exit -> 404", {}, [INIT_12, ("LMSGetValue", ("cmi.core.exit",), "", 404)]),
    ("get WO session_time -> 404", {}, [INIT_12, ("LMSGetValue", ("cmi.core.session_time",), "", 404)]),
    (
        "status 'not attempted' not writable -> 405",
        {},
        [INIT_12, ("LMSSetValue", ("cmi.core.lesson_status", "not attempted"), "false", 405)],
    ),
    ("status vocabulary -> 405", {}, [INIT_12, ("LMSSetValue", ("cmi.core.lesson_status", "done"), "false", 405)]),
    ("score above 100 -> 405", {}, [INIT_12, ("LMSSetValue", ("cmi.core.score.raw", "101"), "false", 405)]),
    ("score not a number -> 405", {}, [INIT_12, ("LMSSetValue", ("cmi.core.score.raw", "ten"), "false", 405)]),
    ("score blank allowed", {}, [INIT_12, ("LMSSetValue", ("cmi.core.score.raw", ""), "true", 0)]),
    (
        "numeric value coerced",
        {},
        [
            INIT_12,
            ("LMSSetValue", ("cmi.core.lesson_location", 7), "true", 0),
            ("LMSGetValue", ("cmi.core.lesson_location",), "7", 0),
        ],
    ),
    ("session_time format -> 405", {}, [INIT_12, ("LMSSetValue", ("cmi.core.session_time", "PT1M"), "false", 405)]),
    ("session_time ok", {}, [INIT_12, ("LMSSetValue", ("cmi.core.session_time", "0000:01:02.5"), "true", 0)]),
    ("audio range -> 405", {}, [INIT_12, ("LMSSetValue", ("cmi.student_preference.audio", "101"), "false", 405)]),
    ("set keyword -> 402", {}, [INIT_12, ("LMSSetValue", ("cmi.core._children", "x"), "false", 402)]),
    ("_children", {}, [INIT_12, ("LMSGetValue", ("cmi.core.score._children",), "raw,min,max", 0)]),
    ("_children of a leaf -> 202", {}, [INIT_12, ("LMSGetValue", ("cmi.core.lesson_status._children",), "", 202)]),
    ("_count of a non-array -> 203", {}, [INIT_12, ("LMSGetValue", ("cmi.core._count",), "", 203)]),
    ("undefined element -> 201", {}, [INIT_12, ("LMSGetValue", ("cmi.core.bogus",), "", 201)]),
    ("empty element -> 201", {}, [INIT_12, ("LMSGetValue", ("",), "", 201)]),
    ("array gap -> 201", {}, [INIT_12, ("LMSSetValue", ("cmi.objectives.1.id", "o2"), "false", 201)]),
    (
        "array append and _count",
        {},
        [
            INIT_12,
            ("LMSSetValue", ("cmi.objectives.0.id", "o1"), "true", 0),
            ("LMSSetValue", ("cmi.objectives.0.status", "passed"), "true", 0),
            ("LMSGetValue", ("cmi.objectives._count",), "1", 0),
            ("LMSGetValue", ("cmi.objectives.0.status",), "passed", 0),
        ],
    ),
    (
        "interactions are write-only -> 404",
        {},
        [
            INIT_12,
            ("LMSSetValue", ("cmi.interactions.0.id", "q1"), "true", 0),
            ("LMSGetValue", ("cmi.interactions.0.id",), "", 404),
        ],
    ),
    ("interaction result decimal", {}, [INIT_12, ("LMSSetValue", ("cmi.interactions.0.result", "0.5"), "true", 0)]),
    (
        "initial state is readable",
        {"cmi.core.student_name": "Doe, Jane", "cmi.core.entry": "resume"},
        [
            INIT_12,
            ("LMSGetValue", ("cmi.core.student_name",), "Doe, Jane", 0),
            ("LMSGetValue", ("cmi.core.entry",), "resume", 0),
        ],
    ),
    ("commit with argument -> 201", {}, [INIT_12, ("LMSCommit", ("x",), "false", 201)]),
    (
        "after finish -> 101",
        {},
        [
            INIT_12,
            ("LMSFinish", ("",), "true", 0),
            ("LMSGetValue", ("cmi.core.lesson_status",), "", 101),
            ("LMSSetValue", ("cmi.core.lesson_status", "passed"), "false", 101),
            ("LMSCommit", ("",), "false", 101),
            ("LMSFinish", ("",), "false", 101),
            ("LMSInitialize", ("",), "false", 101),
        ],
    ),
    (
        "error strings",
        {},
        [("LMSGetErrorString", ("405",), "Incorrect data type", 0), ("LMSGetErrorString", ("999",), "", 0)],
    ),
]

CASES_2004: list[tuple[str, dict[str, str], list[Step]]] = [
    ("get before init -> 122", {}, [("GetValue", ("cmi.location",), "", 122)]),
    ("set before init -> 132", {}, [("SetValue", ("cmi.location", "1"), "false", 132)]),
    ("commit before init -> 142", {}, [("Commit", ("",), "false", 142)]),
    ("terminate before init -> 112", {}, [("Terminate", ("",), "false", 112)]),
    ("initialize twice -> 103", {}, [INIT_04, ("Initialize", ("",), "false", 103)]),
    ("initialize with argument -> 201", {}, [("Initialize", ("x",), "false", 201)]),
    (
        "defaults",
        {},
        [
            INIT_04,
            ("GetValue", ("cmi.completion_status",), "unknown", 0),
            ("GetValue", ("cmi.entry",), "ab-initio", 0),
            ("GetValue", ("cmi._version",), "1.0", 0),
        ],
    ),
    ("unset location -> 403", {}, [INIT_04, ("GetValue", ("cmi.location",), "", 403)]),
    ("set RO learner_id -> 404", {}, [INIT_04, ("SetValue", ("cmi.learner_id", "x"), "false", 404)]),
    ("set _version -> 404", {}, [INIT_04, ("SetValue", ("cmi._version", "2.0"), "false", 404)]),
    ("get WO exit -> 405", {}, [INIT_04, ("GetValue", ("cmi.exit",), "", 405)]),
    ("completion vocabulary -> 406", {}, [INIT_04, ("SetValue", ("cmi.completion_status", "done"), "false", 406)]),
    ("session_time format -> 406", {}, [INIT_04, ("SetValue", ("cmi.session_time", "00:01:00"), "false", 406)]),
    ("session_time ok", {}, [INIT_04, ("SetValue", ("cmi.session_time", "PT1M2.5S"), "true", 0)]),
    (
        "timestamp calendar -> 406",
        {},
        [INIT_04, ("SetValue", ("cmi.comments_from_learner.0.timestamp", "2021-02-30T10:00"), "false", 406)],
    ),
    ("scaled out of range -> 407", {}, [INIT_04, ("SetValue", ("cmi.score.scaled", "1.5"), "false", 407)]),
    (
        "progress_measure out of range -> 407",
        {},
        [INIT_04, ("SetValue", ("cmi.progress_measure", "-0.1"), "false", 407)],
    ),
    (
        "interaction type before id -> 408",
        {},
        [INIT_04, ("SetValue", ("cmi.interactions.0.type", "choice"), "false", 408)],
    ),
    (
        "learner_response before type -> 408",
        {},
        [
            INIT_04,
            ("SetValue", ("cmi.interactions.0.id", "q1"), "true", 0),
            ("SetValue", ("cmi.interactions.0.learner_response", "a"), "false", 408),
        ],
    ),
    (
        "response format by type -> 406",
        {},
        [
            INIT_04,
            ("SetValue", ("cmi.interactions.0.id", "q1"), "true", 0),
            ("SetValue", ("cmi.interactions.0.type", "true-false"), "true", 0),
            ("SetValue", ("cmi.interactions.0.learner_response", "maybe"), "false", 406),
            ("SetValue", ("cmi.interactions.0.learner_response", "true"), "true", 0),
            ("GetValue", ("cmi.interactions.0.learner_response",), "true", 0),
        ],
    ),
    ("array gap -> 351", {}, [INIT_04, ("SetValue", ("cmi.objectives.1.id", "o2"), "false", 351)]),
    (
        "duplicate objective id -> 351",
        {},
        [
            INIT_04,
            ("SetValue", ("cmi.objectives.0.id", "o1"), "true", 0),
            ("SetValue", ("cmi.objectives.1.id", "o1"), "false", 351),
            ("GetValue", ("cmi.objectives._count",), "1", 0),
        ],
    ),
    ("get beyond _count -> 301", {}, [INIT_04, ("GetValue", ("cmi.objectives.0.id",), "", 301)]),
    ("_children of a leaf -> 301", {}, [INIT_04, ("GetValue", ("cmi.location._children",), "", 301)]),
    ("empty element get -> 301", {}, [INIT_04, ("GetValue", ("",), "", 301)]),
    ("empty element set -> 351", {}, [INIT_04, ("SetValue", ("", "x"), "false", 351)]),
    ("undefined element -> 401", {}, [INIT_04, ("GetValue", ("cmi.core.lesson_status",), "", 401)]),
    ("children", {}, [INIT_04, ("GetValue", ("cmi.score._children",), "scaled,raw,min,max", 0)]),
    ("nav request vocabulary -> 406", {}, [INIT_04, ("SetValue", ("adl.nav.request", "jump-around"), "false", 406)]),
    ("nav request choice", {}, [INIT_04, ("SetValue", ("adl.nav.request", "{target=item_2}choice"), "true", 0)]),
    (
        "evaluated success status from scaled_passing_score",
        {"cmi.scaled_passing_score": "0.8"},
        [
            INIT_04,
            ("SetValue", ("cmi.score.scaled", "0.9"), "true", 0),
            ("GetValue", ("cmi.success_status",), "passed", 0),
        ],
    ),
    ("commit with argument -> 201", {}, [INIT_04, ("Commit", ("x",), "false", 201)]),
    (
        "after terminate -> 123/133/143/113/104",
        {},
        [
            INIT_04,
            ("Terminate", ("",), "true", 0),
            ("GetValue", ("cmi.location",), "", 123),
            ("SetValue", ("cmi.location", "1"), "false", 133),
            ("Commit", ("",), "false", 143),
            ("Terminate", ("",), "false", 113),
            ("Initialize", ("",), "false", 104),
        ],
    ),
    (
        "error strings",
        {},
        [("GetErrorString", ("406",), "Data model element type mismatch", 0), ("GetErrorString", ("",), "", 0)],
    ),
]


@pytest.fixture(scope="module")
def api_page(browser, harness) -> Iterator[dict[str, Any]]:
    """One player page per version, whose content never touches the API (blank page)."""
    ctx = browser.new_context(base_url=harness.base_url)
    pages = {}
    for version in ("1.2", "2004"):
        items = [{"id": "blank", "title": "Blank", "url": "/blank.html", "kind": "sco", "depth": 0, "visible": True}]
        path, attempt = harness.launch(version=version, title="API", items=items, nav=False)
        page = ctx.new_page()
        page.goto(path)
        page.wait_for_function("window.cbsiRuntime && window.cbsiRuntime.runtime")
        pages[version] = (page, attempt)
    yield pages
    ctx.close()


RUN_STEPS = """([cfg, steps, apiName]) => {
  cbsiRuntime.start(cfg, {});
  const api = window[apiName];
  const out = [];
  for (const [method, args] of steps) {
    const ret = api[method](...args);
    const err = apiName === 'API' ? api.LMSGetLastError() : api.GetLastError();
    out.push([ret, Number(err)]);
  }
  return out;
}"""


def run_case(api_page: dict, version: str, state: dict[str, str], steps: list[Step]) -> None:
    page, _ = api_page[version]
    cfg = page.evaluate("({...cbsiPlayer.config.runtime, tables: cbsiPlayer.config.tables})")
    cfg.update(scoId=f"case-{next(_case_ids)}", state=state, seq=0, lastCommitId=None)
    api_name = "API" if version == "1.2" else "API_1484_11"
    got = page.evaluate(RUN_STEPS, [cfg, [[m, list(a)] for m, a, _, _ in steps], api_name])
    for (method, args, want_ret, want_code), (ret, code) in zip(steps, got, strict=True):
        call = f"{method}{args!r}"
        if want_ret is not None:
            assert ret == want_ret, f"{call} returned {ret!r}"
        assert code == want_code, f"{call}: GetLastError {code}, expected {want_code}"


@pytest.mark.parametrize(("name", "state", "steps"), CASES_12, ids=[c[0] for c in CASES_12])
def test_scorm12_api(api_page, name, state, steps):
    run_case(api_page, "1.2", state, steps)


@pytest.mark.parametrize(("name", "state", "steps"), CASES_2004, ids=[c[0] for c in CASES_2004])
def test_scorm2004_api(api_page, name, state, steps):
    run_case(api_page, "2004", state, steps)


def test_api_found_by_standard_search_from_content(api_page):
    """The content iframe reaches the API through parent (ADL discovery algorithm)."""
    page, _ = api_page["1.2"]
    frame = next(f for f in page.frames if f.url.endswith("/blank.html"))
    assert frame.evaluate("window.parent.API && typeof window.parent.API.LMSInitialize") == "function"
    page2, _ = api_page["2004"]
    frame2 = next(f for f in page2.frames if f.url.endswith("/blank.html"))
    assert frame2.evaluate("typeof window.parent.API_1484_11.GetValue") == "function"
    assert frame2.evaluate("window.parent.API === undefined")


def test_diagnostic_names_the_element(api_page):
    page, _ = api_page["2004"]
    cfg = page.evaluate("({...cbsiPlayer.config.runtime, tables: cbsiPlayer.config.tables})")
    cfg.update(scoId="diag", state={}, seq=0)
    diag = page.evaluate(
        """(cfg) => { cbsiRuntime.start(cfg, {}); const a = window.API_1484_11; a.Initialize('');
        a.SetValue('cmi.learner_id', 'x'); return [a.GetLastError(), a.GetDiagnostic(''), a.GetDiagnostic('404')]; }""",
        cfg,
    )
    assert diag[0] == "404"
    assert "cmi.learner_id" in diag[1]
    assert "cmi.learner_id" in diag[2]
