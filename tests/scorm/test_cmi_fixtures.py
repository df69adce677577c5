"""The data model against the real SCORM packages in shared/fixtures (read from the zips).

1. Every element name the packages' JavaScript passes to GetValue/SetValue exists in our
   table for the package's version, and every literal (element, value) SetValue pair is
   accepted.
2. The SCORM 2004 golf "advanced calls" SCO is replayed the way its own RecordQuestion code
   records answers (questions and objectives read from the package), through apply_commit,
   finish_session and outcome_from_state.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from scorm.cmi import (
    Completion,
    Success,
    apply_commit,
    empty_state,
    finish_session,
    initial_state,
    outcome_from_state,
    set_value,
    table_for,
)
from scorm.cmi.paths import normalise_element


def _fixtures() -> Path:
    env = os.environ.get("CBSI_FIXTURES_DIR")
    base = (
        Path(env)
        if env
        else Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "packages"
    )
    if not base.is_dir():
        pytest.fail(f"fixture packages missing: {base} (set CBSI_FIXTURES_DIR)")
    return base


PACKAGES = [
    ("1.2", "scorm12/RuntimeBasicCalls_SCORM12.zip"),
    ("2004", "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"),
    ("2004", "scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip"),
    ("2004", "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"),
]

_LITERAL_SET = re.compile(r"SetValue\(\s*\"((?:cmi|adl)\.[A-Za-z_.0-9]+)\"\s*,\s*\"([^\"]*)\"\s*\)")
_LITERAL_NAME = re.compile(r"(?:Set|Get)Value\(\s*\"((?:cmi|adl)\.[A-Za-z_.0-9]+)\"\s*[,)]")
_DYNAMIC_NAME = re.compile(
    r"(?:Set|Get)Value\(\s*\"((?:cmi|adl)\.[A-Za-z_.0-9]*\.)\"\s*\+\s*\w+\s*\+\s*\"(\.[A-Za-z_.0-9]+)\""
)


def _sources(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(
            archive.read(name).decode("utf-8", "replace")
            for name in archive.namelist()
            if name.endswith((".js", ".html", ".htm"))
        )


@pytest.mark.parametrize(("version", "package"), PACKAGES)
def test_every_element_the_package_uses_is_defined(version, package):
    source = _sources(_fixtures() / package)
    names = set(_LITERAL_NAME.findall(source))
    names |= {f"{prefix}0{suffix}" for prefix, suffix in _DYNAMIC_NAME.findall(source)}
    assert len(names) >= 5, "the scan found too little; has the fixture changed?"
    table = table_for(version)
    for name in sorted(names):
        path, _ = normalise_element(name)
        assert path in table.elements, f"{package}: {name} not in the SCORM {version} table"


@pytest.mark.parametrize(("version", "package"), PACKAGES)
def test_literal_set_values_are_accepted(version, package):
    source = _sources(_fixtures() / package)
    pairs = set(_LITERAL_SET.findall(source))
    assert pairs, "no literal SetValue calls found"
    for element, value in sorted(pairs):
        if ".n." in normalise_element(element)[0]:
            continue  # array elements are replayed in the scenario test below
        _, code = set_value(empty_state(version), element, value, version)
        assert code == 0, f"{package}: SetValue({element!r}, {value!r}) -> {code}"


_QUESTION = re.compile(
    r"new Question\s*\(\s*\"([^\"]+)\",\s*\"((?:[^\"\\]|\\.)*)\",\s*(QUESTION_TYPE_\w+),\s*"
    r"(null|new Array\((.*?)\)),\s*(\"[^\"]*\"|true|false|[0-9.]+),\s*\"([^\"]+)\"\s*\)",
    re.S,
)
_TYPES = {"QUESTION_TYPE_CHOICE": "choice", "QUESTION_TYPE_TF": "true-false"}
_TYPES["QUESTION_TYPE_NUMERIC"] = "numeric"


def _golf_questions(path: Path) -> list[dict[str, str]]:
    questions = []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith("questions.js"):
                continue
            text = archive.read(name).decode("utf-8")
            for qid, qtext, qtype, _, answers, correct, objective in _QUESTION.findall(text):
                questions.append(
                    {
                        "id": qid,
                        "text": qtext,
                        "type": _TYPES[qtype],
                        "answers": re.findall(r"\"([^\"]*)\"", answers or ""),
                        "correct": correct.strip('"'),
                        "objective": objective,
                    }
                )
    return questions


def _format_choice(value: str) -> str:
    # The package's FormatChoiceResponse: every non-word character becomes "_".
    return re.sub(r"\W", "_", value)


def test_replay_golf_advanced_calls_2004():
    package = _fixtures() / "scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip"
    with zipfile.ZipFile(package) as archive:
        manifest = archive.read("imsmanifest.xml").decode("utf-8")
    objective_ids = re.findall(r"objectiveID=\"([^\"]+)\"", manifest)
    passing = float(re.search(r"<imsss:minNormalizedMeasure>([^<]+)<", manifest).group(1))
    questions = _golf_questions(package)
    assert len(questions) == 15
    assert {q["type"] for q in questions} == {"choice", "true-false", "numeric"}

    state = initial_state(
        "2004",
        learner_id="urn:lti:learner:7",
        learner_name="Golfer",
        scaled_passing_score=passing,
        objective_ids=objective_ids,
    )
    body: dict[str, str] = {
        "cmi.completion_status": "incomplete",
        "cmi.location": "3",
        "cmi.session_time": "P0S",  # what the package's formatter writes for no time
        "cmi.exit": "suspend",
        "adl.nav.request": "suspendAll",
    }
    correct_count = 0
    for n, q in enumerate(questions):
        # RecordQuestion(): id, description, objective, type, response, pattern, result.
        if q["type"] == "choice":
            correct = _format_choice(str(q["answers"].index(q["correct"])))
            response = _format_choice("0")
        elif q["type"] == "true-false":
            correct, response = q["correct"], "true"
        else:
            correct, response = q["correct"], "18"
        was_correct = correct == response
        correct_count += was_correct
        prefix = f"cmi.interactions.{n}"
        body.update(
            {
                f"{prefix}.id": q["id"],
                f"{prefix}.description": q["text"],
                f"{prefix}.objectives.0.id": q["objective"],
                f"{prefix}.type": q["type"],
                f"{prefix}.learner_response": response,
                f"{prefix}.correct_responses.0.pattern": correct,
                f"{prefix}.result": "correct" if was_correct else "incorrect",
            }
        )
    for index, objective in enumerate(objective_ids):
        if objective == "PRIMARYOBJ":
            continue
        body[f"cmi.objectives.{index}.score.scaled"] = "0.5"
        body[f"cmi.objectives.{index}.score.raw"] = "1"
        body[f"cmi.objectives.{index}.score.min"] = "0"
        body[f"cmi.objectives.{index}.score.max"] = "2"
        body[f"cmi.objectives.{index}.progress_measure"] = "0.33"
        body[f"cmi.objectives.{index}.completion_status"] = "incomplete"
    scaled = round(correct_count / len(questions), 2)
    body["cmi.score.scaled"] = str(scaled)
    body["cmi.score.raw"] = str(round(scaled * 100))
    body["cmi.score.min"] = "0"
    body["cmi.score.max"] = "100"

    result = apply_commit(state, body, "2004")
    assert result.rejected == ()
    done = finish_session(result.state, "2004")
    outcome = outcome_from_state(done, "2004")
    assert outcome.score_scaled == pytest.approx(scaled)
    assert outcome.success is (Success.PASSED if scaled >= passing else Success.FAILED)
    assert outcome.completion is Completion.INCOMPLETE
    assert done["counts"]["cmi.interactions"] == len(questions)
    assert done["counts"]["cmi.objectives"] == len(objective_ids)
