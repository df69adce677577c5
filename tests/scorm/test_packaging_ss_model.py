"""One IMS Simple Sequencing model: the activity tree holds the parsed definition, no copy of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scorm.packaging import ScormManifest, inspect_package
from scorm.sequencing import build_tree, tree
from scorm.sequencing import definition as ss

FORCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
SCORM12 = "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip"


def _manifest(pkg_fixtures: Path, name: str) -> ScormManifest:
    structure = inspect_package(pkg_fixtures / name).structure
    assert isinstance(structure, ScormManifest)
    return structure


def test_rule_classes_are_the_models() -> None:
    assert tree.Rule is ss.SequencingRule
    assert tree.RollupRule is ss.RollupRule
    assert tree.RollupCondition is ss.RollupCondition
    assert not hasattr(tree, "RuleCondition")


def test_activities_hold_the_parsed_definition(pkg_fixtures: Path) -> None:
    manifest = _manifest(pkg_fixtures, FORCED)
    built = build_tree(manifest)
    org = manifest.default_organization
    assert built.get(org.identifier).sequencing is org.sequencing
    for item in org.walk():
        activity = built.get(item.identifier)
        assert item.sequencing is not None
        assert activity.sequencing is item.sequencing
        assert activity.completion_threshold is item.completion_threshold
        rules = item.sequencing.sequencing_rules
        assert activity.pre_rules is rules.pre_condition and activity.post_rules is rules.post_condition
        assert activity.rollup_rules is item.sequencing.rollup_rules.rules
        assert activity.choice is item.sequencing.control_mode.choice
        assert activity.tracked is item.sequencing.delivery_controls.tracked
        for objective in activity.objectives:
            assert objective.definition in item.sequencing.objectives.all()


def test_rule_views_the_engine_reads(pkg_fixtures: Path) -> None:
    built = build_tree(_manifest(pkg_fixtures, FORCED))
    rules = [r for a in built.activities.values() for r in (*a.pre_rules, *a.exit_rules, *a.post_rules)]
    assert rules, "the forced-sequential package has sequencing rules"
    for rule in rules:
        assert rule.combination == rule.condition_combination
        for cond in rule.conditions:
            assert cond.negate is (cond.operator == "not")
            assert cond.objective == cond.referenced_objective
            assert cond.threshold == cond.measure_threshold


def test_scorm12_activities_flow_and_choose_without_objective_maps(pkg_fixtures: Path) -> None:
    built = build_tree(_manifest(pkg_fixtures, SCORM12))
    for activity in built.activities.values():
        assert activity.sequencing is tree.SCORM12_SEQUENCING
        assert activity.flow and activity.choice
        assert not activity.use_current_attempt_objective_info
        assert activity.objectives == () and activity.primary.key == tree.PRIMARY_KEY


def test_the_model_needs_no_lxml() -> None:
    code = (
        "import sys, scorm.sequencing.definition\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'lxml' or m.startswith('scorm.packaging')]\n"
        "sys.exit(1 if bad else 0)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
