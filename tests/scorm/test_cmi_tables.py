"""The declarative tables and their JSON export for the browser adapter."""

from __future__ import annotations

import json
import re

import pytest

from scorm.cmi import export_tables, table_for
from scorm.cmi.tables import INVALID_INDEX, index_value

VERSIONS = ["1.2", "2004"]

# Python-only regex syntax a browser RegExp would reject or read differently.
NOT_JS = [r"(?P<", r"(?P=", r"\A", r"\Z", r"(?i", r"(?s", r"(?x", r"(?m", r"\d", r"\w", "(?<"]


def _patterns(doc):
    for name, dtype in doc["types"].items():
        if dtype["pattern"]:
            yield f"type {name}", dtype["pattern"]
    for name, item in doc.get("responses", {}).get("items", {}).items():
        if item["pattern"]:
            yield f"response item {name}", item["pattern"]


@pytest.mark.parametrize("version", VERSIONS)
def test_export_is_json_and_complete(version):
    doc = export_tables(version)
    assert json.loads(json.dumps(doc)) == doc
    table = table_for(version)
    assert set(doc["elements"]) == set(table.elements)
    assert doc["version"] == version
    assert set(doc["errors"].values()) >= {0, 101, 201, 401, 403, 404, 405}
    assert ("responses" in doc) is (version == "2004")


@pytest.mark.parametrize("version", VERSIONS)
def test_exported_patterns_are_anchored_and_js_compatible(version):
    doc = export_tables(version)
    patterns = list(_patterns(doc))
    assert len(patterns) >= 5
    for where, pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$"), where
        for token in NOT_JS:
            assert token not in pattern, (where, token)
        # "\s" means different sets in Python and JS; only "[\s\S]" (any character) is safe.
        bare = pattern.replace("[\\s\\S]", "")
        assert "\\s" not in bare and "\\S" not in bare, where
        re.compile(pattern)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_element_cites_its_spec_and_has_consistent_rules(version):
    table = table_for(version)
    for path, spec in table.elements.items():
        assert spec.spec.startswith(("RTE 1.2 §", "RTE 4th §", "AICC")), path
        assert spec.dtype in table.types, path
        # every "n" belongs to a declared array
        parts = path.split(".")
        for i, part in enumerate(parts):
            if part == "n":
                assert ".".join(parts[:i]) in table.arrays, path
        if spec.keyword == "_count":
            assert spec.array in table.arrays, path
        if spec.write_vocabulary is not None:
            assert set(spec.write_vocabulary) <= set(spec.vocabulary), path
        if spec.default is not None and spec.vocabulary:
            assert spec.default in spec.vocabulary, path
        for required in spec.requires:
            assert required in table.elements, path
        if spec.note:
            assert "SPEC COMPLIANCE NOTE" in spec.note or "lenient" in spec.note, path


@pytest.mark.parametrize("version", VERSIONS)
def test_every_array_has_a_count_keyword(version):
    table = table_for(version)
    counted = {s.array for s in table.elements.values() if s.keyword == "_count"}
    assert counted == set(table.arrays)


@pytest.mark.parametrize(
    ("version", "element", "field", "expected"),
    [
        ("1.2", "cmi.suspend_data", "max_length", 64000),
        ("1.2", "cmi.suspend_data", "spm", 4096),
        ("1.2", "cmi.comments", "max_length", 4096),
        (
            "1.2",
            "cmi.core.lesson_status",
            "write_vocabulary",
            ["passed", "completed", "failed", "incomplete", "browsed"],
        ),
        ("1.2", "cmi.core.score.raw", "range", [0.0, 100.0]),
        ("1.2", "cmi.core.exit", "access", "WO"),
        ("2004", "cmi.suspend_data", "max_length", 64000),
        ("2004", "cmi.location", "max_length", 1000),
        ("2004", "cmi.score.scaled", "range", [-1.0, 1.0]),
        ("2004", "cmi.learner_preference.audio_level", "range", [0.0, None]),
        ("2004", "cmi.interactions.n.type", "requires", ["cmi.interactions.n.id"]),
        ("2004", "cmi.interactions.n.learner_response", "response", "learner"),
        ("2004", "cmi.objectives.n.score.raw", "creates", False),
        ("2004", "cmi.interactions.n.result", "or_decimal", True),
        ("2004", "adl.data.n.id", "access", "RO"),
    ],
)
def test_exported_entries(version, element, field, expected):
    assert export_tables(version)["elements"][element][field] == expected


def test_exported_index_pattern_normalises_paths():
    pattern = re.compile(export_tables("2004")["index_pattern"])
    assert pattern.sub(".n", "cmi.interactions.12.objectives.0.id") == (
        "cmi.interactions.n.objectives.n.id"
    )
    # A non-canonical index is still an index (ADL CTS: 351, not 401); its value is invalid.
    assert pattern.sub(".n", "cmi.interactions.01.id") == "cmi.interactions.n.id"
    assert index_value("01") == INVALID_INDEX
    assert index_value("0") == 0


def test_exported_response_formats():
    responses = export_tables("2004")["responses"]
    assert responses["delimiters"] == {"list": "[,]", "pair": "[.]", "range": "[:]"}
    assert responses["types"]["true-false"]["max_patterns"] == 1
    assert responses["types"]["choice"]["pattern"]["unique"] is True
    assert responses["types"]["fill-in"]["pattern"]["prefixes"] == ["case_matters", "order_matters"]
    assert responses["types"]["performance"]["learner"]["max_items"] == 250
