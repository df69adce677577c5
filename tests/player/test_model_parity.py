"""Parity of the browser data model with the server's (scorm.cmi), element by element.

The browser must answer GetValue/SetValue like the server will re-validate the commit; this
runs the same operation sequences through ``cbsiRuntime.CmiModel`` (in chromium) and through
``scorm.cmi.get_value``/``set_value`` and compares every error code and value. A broken
``scorm.cmi`` import fails this module (it is never skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scorm import cmi

pytestmark = pytest.mark.browser

CANDIDATES = [
    "", "abc", "q 1", "0", "1", "-1", "7", "100", "101", "0.5", "1.5", "-0.5", "2", "ten",
    "PT1M30S", "P1DT2H", "0000:01:30.5", "12:30:00", "2021-01-01T10:00:00Z", "2021-02-30", "true", "false",
    "completed", "incomplete", "not attempted", "passed", "failed", "unknown", "browsed",
    "suspend", "logout", "normal", "time-out", "choice", "true-false", "correct", "incorrect",
    "wrong", "{lang=en}hello", "{lang=}x", "continue", "{target=item_2}choice", "_none_", "exitAll",
    "urn:x:y", "a,b", "a[,]b", "1[:]2", "x" * 300, "\U0001F600" * 250, "\U0001F600" * 251, "\u00a0", " ",
    # time(second,10,0): a TZD only after fractional seconds; ISO 639 primary language subtags.
    "2004-04-01T15Z", "2004-04-01T09:45:58-03:00", "2004-04-01T09:45:58.55-03:00", "2004-04-01T09:45:58.5Z",
    "frl", "sp", "ruq-JM", "EN-us", "mo", "scc", "{lang=frl}x", "{lang=mol}x", "{lang=eng}x",
    "{}{[]}{}{[]}{}", "uri[.]abcd", "a|b",
]  # fmt: skip

# Response formats per interaction type (RTE 4th §4.2.9): delimiters, languages, identifiers.
RESPONSE_TYPES = ["choice", "fill-in", "long-fill-in", "likert", "performance", "sequencing", "matching"]
RESPONSE_CANDIDATES = [
    "z", "{lang=en-US}z", "{lang=frl}z", "{lang=sp}z", "{case_matters=true}z", "{case_matters=invalid}z",
    "{lang=eng}{case_matters=true}z", "{lang=eng}{case_matters=invalid}z", "{case_matters=true}{lang=eng}z",
    "{lang=en-US}{case_matters=false}" + "x" * 4000, "{lang=en-US}" + "x" * 4001, "{order_matters=true}a[.]b",
    "{}{[]}{}{[]}{}", "uri.uri.uri[.]abcd[,]testuri", "a[.]b[,]c[.]d", "a[,]{lang=frl}b",
]  # fmt: skip


def sequences(tables: dict[str, Any], version: str) -> list[list[list[str]]]:
    """One operation list per element: prerequisites, then set/get of every candidate."""
    out = []
    for path, spec in tables["elements"].items():
        element = path.replace(".n.", ".0.").replace("{target=}", "{target=item_2}")
        ops: list[list[str]] = []
        if version == "2004":
            if element.startswith("cmi.interactions.0.") and not element.endswith(".0.id"):
                ops.append(["set", "cmi.interactions.0.id", "q1"])
                if "correct_responses" in element or "learner_response" in element:
                    ops.append(["set", "cmi.interactions.0.type", "choice"])
            if element.startswith("cmi.interactions.0.objectives.0."):
                ops.append(["set", "cmi.interactions.0.id", "q1"])
            if element.startswith("cmi.objectives.0.") and element != "cmi.objectives.0.id":
                ops.append(["set", "cmi.objectives.0.id", "o1"])
        if spec["keyword"]:
            ops.append(["get", element, ""])
            ops.append(["set", element, "x"])
        else:
            for value in [*CANDIDATES, *(spec["vocabulary"] or [])]:
                ops.append(["set", element, value])
                ops.append(["get", element, ""])
        if ".n." in path:
            # Index rules: a gap after the last entry, an index far beyond _count and a
            # non-canonical index ("00", "01").
            good = (spec["vocabulary"] or ["abc"])[0]
            head, _, tail = element.rpartition(".0.")
            gaps = (f"{head}.1.{tail}", element.replace(".0.", ".5.", 1), f"{head}.00.{tail}", f"{head}.01.{tail}")
            for gap in gaps:
                ops.append(["set", gap, good])
                ops.append(["get", gap, ""])
        out.append(ops)
    if version == "2004":
        for kind in RESPONSE_TYPES:
            ops = [["set", "cmi.interactions.0.id", "q1"], ["set", "cmi.interactions.0.type", kind]]
            for element in ("cmi.interactions.0.learner_response", "cmi.interactions.0.correct_responses.0.pattern"):
                for value in RESPONSE_CANDIDATES:
                    ops.append(["set", element, value])
                    ops.append(["get", element, ""])
            out.append(ops)
    return out


RUN_JS = """([tables, version, seqs]) => {
  const codes = Object.assign({}, cbsiRuntime.CODES[version], tables.errors || {});
  return seqs.map((ops) => {
    const m = new cbsiRuntime.CmiModel(tables, version, {});
    return ops.map(([op, el, v]) => {
      if (op === 'set') return ['', codes[m.set(el, v).kind]];
      const r = m.get(el);
      return [r.value, codes[r.kind]];
    });
  });
}"""


def run_python(version: str, seqs: list[list[list[str]]]) -> list[list[list[Any]]]:
    results = []
    for ops in seqs:
        state = cmi.empty_state(version)
        row = []
        for op, element, value in ops:
            if op == "set":
                state, code = cmi.set_value(state, element, value, version)
                row.append(["", code])
            else:
                got, code = cmi.get_value(state, element, version)
                row.append([got, code])
        results.append(row)
    return results


@pytest.fixture(scope="module")
def model_page(browser, harness) -> Iterator[Any]:
    ctx = browser.new_context(base_url=harness.base_url)
    items = [{"id": "blank", "title": "Blank", "url": "/blank.html", "kind": "sco", "depth": 0, "visible": True}]
    path, _ = harness.launch(version="1.2", title="Parity", items=items, nav=False)
    page = ctx.new_page()
    page.goto(path)
    page.wait_for_function("!!(window.cbsiRuntime && window.cbsiRuntime.CmiModel)")
    yield page
    ctx.close()


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_browser_model_answers_like_the_server(model_page, version):
    tables = cmi.export_tables(version)
    seqs = sequences(tables, version)
    got_js = model_page.evaluate(RUN_JS, [tables, version, seqs])
    got_py = run_python(version, seqs)
    mismatches = []
    for ops, js_row, py_row in zip(seqs, got_js, got_py, strict=True):
        for op, js, py in zip(ops, js_row, py_row, strict=True):
            if list(js) != list(py):
                mismatches.append(f"{op[0]} {op[1]} {op[2][:20]!r}: browser {js!r} server {py!r}")
    assert not mismatches, f"{len(mismatches)} differences:\n" + "\n".join(mismatches[:40])


API_SEQUENCES = [
    [["GetValue", "cmi.location"], ["SetValue", "cmi.location", "1"], ["Commit", ""], ["Terminate", ""]],
    [["Initialize", "x"], ["Initialize", ""], ["Initialize", ""], ["Initialize", "x"], ["Commit", "x"]],
    [["Initialize", ""], ["SetValue", "cmi.location", "7"], ["GetValue", "cmi.location"], ["Commit", ""]],
    [["Initialize", ""], ["Terminate", "x"], ["Terminate", ""], ["Terminate", ""], ["Initialize", ""]],
    [["Initialize", ""], ["Terminate", ""], ["GetValue", "cmi.location"], ["SetValue", "cmi.location", "1"]],
    [["Initialize", ""], ["Terminate", ""], ["Commit", ""], ["Commit", "x"]],
    [["Initialize", ""], ["GetValue", ""], ["SetValue", "", "1"], ["GetValue", "cmi.bogus"]],
]

PY_API = {
    "Initialize": "initialize",
    "Terminate": "terminate",
    "GetValue": "get_value",
    "SetValue": "set_value",
    "Commit": "commit",
}

RUN_API_JS = """([cfg, seqs]) => seqs.map((calls, i) => {
  const rt = new cbsiRuntime.ScormRuntime(Object.assign({}, cfg, {scoId: 'api-' + i}), {});
  const fn = {Initialize: 'initialize', Terminate: 'terminate', GetValue: 'getValue', SetValue: 'setValue',
              Commit: 'commit'};
  const out = calls.map(([name, ...args]) => {
    const r = rt[fn[name]](...args);
    return [r, Number(rt.getLastError())];
  });
  rt.dispose();
  return out;
})"""


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_browser_api_lifecycle_answers_like_the_server_reference(model_page, version):
    from scorm.cmi import api

    tables = cmi.export_tables(version)
    seqs = [
        [[c[0], *[a.replace("cmi.location", "cmi.core.lesson_location") for a in c[1:]]] for c in calls]
        if version == "1.2"
        else calls
        for calls in API_SEQUENCES
    ]
    cfg = {"version": version, "attemptId": "parity", "commitUrl": "/nowhere", "token": "t", "seq": 0, "tables": tables}
    got_js = model_page.evaluate(RUN_API_JS, [cfg, seqs])
    for calls, js_row in zip(seqs, got_js, strict=True):
        session = api.open_session(cmi.empty_state(version), version)
        for call, js in zip(calls, js_row, strict=True):
            session, ret = getattr(api, PY_API[call[0]])(session, *call[1:])
            assert list(js) == [ret, session.last_error], f"{call}: browser {js}, server {[ret, session.last_error]}"


RUN_INITIAL_JS = """([tables, version, initial, ops]) => {
  const codes = Object.assign({}, cbsiRuntime.CODES[version], tables.errors || {});
  const m = new cbsiRuntime.CmiModel(tables, version, initial);
  return ops.map(([op, el, v]) => {
    if (op === 'set') return ['', codes[m.set(el, v).kind]];
    const r = m.get(el);
    return [r.value, codes[r.kind]];
  });
}"""


def test_browser_enforces_shared_data_permissions_like_the_server(model_page):
    """adl.data.n.store with the manifest map's readSharedData/writeSharedData (RTE 4th §4.3)."""
    state = cmi.initial_state(
        "2004",
        learner_id="l1",
        learner_name="L",
        shared_data=(
            ("s-rw", "a", True, True),
            ("s-r", "b", True, False),
            ("s-w", "c", False, True),
            ("s-0", None, False, False),
        ),
    )
    ops: list[list[str]] = []
    for n in range(4):
        for value in ("x", "", "y"):
            ops += [["get", f"adl.data.{n}.store", ""], ["set", f"adl.data.{n}.store", value]]
        ops += [
            ["get", f"adl.data.{n}.id", ""],
            ["get", f"adl.data.{n}.~access", ""],
            ["set", f"adl.data.{n}.~access", "rw"],
        ]
    tables = cmi.export_tables("2004")
    got_js = model_page.evaluate(RUN_INITIAL_JS, [tables, "2004", state["values"], ops])
    doc, got_py = state, []
    for op, element, value in ops:
        if op == "set":
            doc, code = cmi.set_value(doc, element, value, "2004")
            got_py.append(["", code])
        else:
            got_py.append(list(cmi.get_value(doc, element, "2004")))
    assert [list(r) for r in got_js] == got_py
    assert {tuple(r) for r in got_py} >= {("", 404), ("", 405), ("", 403), ("a", 0)}
