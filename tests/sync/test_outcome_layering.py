"""The one outcome type and the import rule around it (docs/ARCHITECTURE.md): ``sync`` imports
``scorm.outcome`` and nothing else of ``scorm``; ``scorm.outcome`` is a stdlib-only leaf; neither
``scorm`` nor ``sync`` imports ``lti_tool``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_sync_imports_only_the_outcome_module_of_scorm() -> None:
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "sync").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in ("scorm", "lti_tool") and name != "scorm.outcome"
    }
    assert offending == set()


def test_scorm_never_imports_lti_tool_or_sync() -> None:
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "scorm").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in ("lti_tool", "sync")
    }
    assert offending == set()


def test_the_outcome_module_is_a_stdlib_leaf() -> None:
    names = {name.split(".")[0] for name in _imports(REPO / "scorm" / "outcome.py")}
    assert names - {"__future__"} <= set(sys.stdlib_module_names)


def test_one_outcome_round_trips_through_its_stored_form() -> None:
    from scorm.cmi import outcome_from_state
    from scorm.outcome import Completion, Outcome, Success

    state = {"version": "2004", "values": {"cmi.score.scaled": "0.8", "cmi.success_status": "passed"}, "counts": {}}
    outcome = outcome_from_state(state, "2004")
    assert outcome.success is Success.PASSED and outcome.final
    assert Outcome.from_json(outcome.to_json()) == outcome
    assert Outcome.from_json({}, default=Completion.NOT_ATTEMPTED) == Outcome(completion=Completion.NOT_ATTEMPTED)
