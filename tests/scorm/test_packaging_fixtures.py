"""Every real fixture package imports, with its parsed structure checked in detail."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from scorm.packaging import (
    Cmi5Course,
    ImportedPackage,
    LaunchKind,
    LaunchMethod,
    MoveOn,
    PackageError,
    ScormManifest,
    ScormType,
    Standard,
    TinCanManifest,
    extract_package,
    inspect_package,
)
from scorm.sequencing.definition import (
    DEFAULT_SEQUENCING,
    ConditionCombination,
    ConditionOperator,
    RuleAction,
    RuleConditionType,
)

SCORM12_CP = "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip"
SCORM12_RT = "scorm12/RuntimeBasicCalls_SCORM12.zip"
S2004_2ND = "scorm2004/ContentPackagingSingleSCO_SCORM20042ndEdition.zip"
S2004_RT = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
S2004_ADV = "scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip"
S2004_SEQ = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
TINCAN = "xapi/GolfExample_TCAPI.zip"
CMI5_SINGLE = "cmi5/catapult_single_au_basic_framed.zip"
CMI5_MULTI = "cmi5/catapult_multi_au_framed.zip"


def _import(fixtures: Path, rel: str, dest: Path) -> ImportedPackage:
    return extract_package(fixtures / rel, dest)


@pytest.mark.parametrize(
    ("rel", "standard", "edition", "title", "sco_count", "launchables"),
    [
        (SCORM12_CP, Standard.SCORM12, None, "Golf Explained - CP One File Per SCO", 0, 18),
        (SCORM12_RT, Standard.SCORM12, None, "Golf Explained - Run-time Basic Calls", 1, 1),
        (S2004_2ND, Standard.SCORM2004, 2, "Golf Explained - CP Single SCO", 1, 1),
        (S2004_RT, Standard.SCORM2004, 3, "Golf Explained - Run-time Basic Calls", 1, 1),
        (S2004_ADV, Standard.SCORM2004, 3, "Golf Explained - Run-time Advanced Calls", 1, 1),
        (S2004_SEQ, Standard.SCORM2004, 3, "Golf Explained - Sequencing Forced Order", 5, 5),
        (TINCAN, Standard.XAPI, None, "Tin Can Golf Example", 1, 1),
        (CMI5_SINGLE, Standard.CMI5, None, "Introduction to Geology - Framed Style", 1, 1),
        (CMI5_MULTI, Standard.CMI5, None, "Introduction to Geology - Multi AU at Root", 8, 8),
    ],
)
def test_fixture_imports_and_extracts(pkg_fixtures, tmp_path, rel, standard, edition, title, sco_count, launchables):
    source = pkg_fixtures / rel
    result = extract_package(source, tmp_path)
    assert result.standard is standard
    assert result.edition == edition
    assert result.title == title
    assert result.sco_count == sco_count
    assert len(result.launchables) == launchables
    assert result.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert result.package_size == source.stat().st_size
    assert result.content_dir == tmp_path / result.sha256
    # Every file of the zip landed, byte for byte, and nothing else is in dest_root.
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.sha256]
    files = [p for p in result.content_dir.rglob("*") if p.is_file()]
    assert len(files) == result.file_count
    assert sum(p.stat().st_size for p in files) == result.total_size
    for item in result.launchables:
        if "://" not in item.launch_url:
            assert (result.content_dir / item.launch_url.split("?")[0]).is_file()


def test_reimport_is_idempotent(pkg_fixtures, tmp_path):
    first = extract_package(pkg_fixtures / SCORM12_RT, tmp_path)
    marker = first.content_dir / "marker.txt"
    marker.write_text("kept")
    second = extract_package(pkg_fixtures / SCORM12_RT, tmp_path)
    assert first.content_dir == second.content_dir
    assert second.structure == first.structure
    assert marker.read_text() == "kept"  # the existing folder was reused, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == [first.sha256]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [(S2004_ADV, 0.8), (S2004_RT, None), (S2004_2ND, None), (SCORM12_RT, None)],
)
def test_scaled_passing_score_from_manifest(pkg_fixtures, rel, expected):
    manifest = inspect_package(pkg_fixtures / rel).structure
    (item,) = manifest.default_organization.items
    if expected is None:
        assert item.scaled_passing_score is None
    else:
        assert item.scaled_passing_score == pytest.approx(expected)


def test_named_destination(pkg_fixtures, tmp_path):
    result = extract_package(pkg_fixtures / SCORM12_RT, tmp_path, name="course-42")
    assert result.content_dir == tmp_path / "course-42"
    assert (tmp_path / "course-42" / "imsmanifest.xml").is_file()


@pytest.mark.parametrize("rel", [SCORM12_CP, S2004_SEQ, TINCAN, CMI5_MULTI])
def test_inspect_matches_extract_and_writes_nothing(pkg_fixtures, tmp_path, pkg_listing, rel):
    before = pkg_listing(tmp_path)
    inspected = inspect_package(pkg_fixtures / rel, verify_data=True)
    assert pkg_listing(tmp_path) == before
    assert inspected.content_dir is None
    extracted = extract_package(pkg_fixtures / rel, tmp_path)
    assert inspected.structure == extracted.structure
    assert inspected.launchables == extracted.launchables
    assert inspected.total_size == extracted.total_size
    assert inspected.sha256 == extracted.sha256


def test_scorm12_hierarchy_of_assets(pkg_fixtures):
    result = inspect_package(pkg_fixtures / SCORM12_CP)
    manifest = result.structure
    assert isinstance(manifest, ScormManifest)
    assert manifest.identifier == "com.scorm.golfsamples.contentpackaging.multioscosinglefile.12"
    assert manifest.schema_version == "1.2"
    org = manifest.default_organization
    assert org.identifier == "golf_sample_default_org"
    assert [i.title for i in org.items] == [
        "Playing the Game",
        "Etiquette",
        "Handicapping",
        "Having Fun",
    ]
    assert len(list(org.walk())) == 22
    assert [len(i.children) for i in org.items] == [6, 4, 5, 3]
    assert all(i.launch_url is None and i.scorm_type is None for i in org.items)
    assert all(item.kind is LaunchKind.ASSET for item in result.launchables)
    assert all(item.visible for item in result.launchables)
    quiz = {i.identifier: i.launch_url for i in result.launchables if "quiz" in i.identifier}
    assert quiz == {
        "playing_quiz_item": "shared/assessmenttemplate.html?questions=Playing",
        "etiquette_quiz_item": "shared/assessmenttemplate.html?questions=Etiquette",
        "handicapping_quiz_item": "shared/assessmenttemplate.html?questions=Handicapping",
        "havingfun_quiz_item": "shared/assessmenttemplate.html?questions=HavingFun",
    }
    playing_quiz = manifest.item("playing_quiz_item")
    assert playing_quiz is not None and playing_quiz.parameters == "?questions=Playing"
    assert playing_quiz.sequencing is None  # SCORM 1.2 has no sequencing
    common = manifest.resource("common_files")
    assert common is not None and common.launch_path is None
    assert "shared/scormfunctions.js" in common.files
    assert manifest.resource("playing_quiz_resource").dependencies == ("common_files",)


def test_scorm12_single_sco(pkg_fixtures):
    manifest = inspect_package(pkg_fixtures / SCORM12_RT).structure
    assert isinstance(manifest, ScormManifest)
    (item,) = manifest.default_organization.items
    assert (item.identifier, item.title, item.launch_url) == (
        "item_1",
        "Golf Explained",
        "shared/launchpage.html",
    )
    assert item.scorm_type is ScormType.SCO
    assert item.mastery_score is None and item.data_from_lms is None
    assert item.is_visible is True
    assert len(manifest.resource("resource_1").files) == 39


def test_scorm2004_2nd_edition_defaults(pkg_fixtures):
    manifest = inspect_package(pkg_fixtures / S2004_2ND).structure
    assert isinstance(manifest, ScormManifest)
    assert manifest.schema_version == "CAM 1.3"
    (item,) = manifest.default_organization.items
    assert item.sequencing == DEFAULT_SEQUENCING  # no sequencing element: every SN default
    assert item.completion_threshold is None
    assert manifest.default_organization.objectives_global_to_system is True


def test_scorm2004_runtime_basic_delivery_controls(pkg_fixtures):
    manifest = inspect_package(pkg_fixtures / S2004_RT).structure
    org = manifest.default_organization
    assert org.objectives_global_to_system is False
    assert org.sequencing.control_mode.choice is True
    assert org.sequencing.control_mode.flow is True
    assert org.sequencing.control_mode.forward_only is False
    (item,) = org.items
    dc = item.sequencing.delivery_controls
    assert (dc.tracked, dc.completion_set_by_content, dc.objective_set_by_content) == (
        True,
        True,
        True,
    )
    assert item.sequencing.declared == ("delivery_controls",)


def test_scorm2004_advanced_scaled_passing_score_inputs(pkg_fixtures):
    """satisfiedByMeasure + minNormalizedMeasure feed cmi.scaled_passing_score (RTE 4.2.21)."""
    manifest = inspect_package(pkg_fixtures / S2004_ADV).structure
    (item,) = manifest.default_organization.items
    objectives = item.sequencing.objectives
    primary = objectives.primary
    assert primary is not None and primary.is_primary
    assert primary.objective_id == "PRIMARYOBJ"
    assert primary.satisfied_by_measure is True
    assert primary.min_normalized_measure == pytest.approx(0.8)
    assert [o.objective_id for o in objectives.others] == [
        "obj_etiquette",
        "obj_handicapping",
        "obj_havingfun",
        "obj_playing",
    ]
    assert all(o.satisfied_by_measure is False for o in objectives.others)
    assert all(o.min_normalized_measure == 1.0 for o in objectives.others)
    assert item.sequencing.delivery_controls.completion_set_by_content is True


def test_forced_sequential_rules_collection_and_global_objectives(pkg_fixtures):
    result = inspect_package(pkg_fixtures / S2004_SEQ)
    manifest = result.structure
    assert isinstance(manifest, ScormManifest)
    assert [(lc.identifier, lc.launch_url) for lc in result.launchables] == [
        ("playing_item", "shared/launchpage.html?content=playing"),
        ("etuqiette_item", "shared/launchpage.html?content=etiquette"),
        ("handicapping_item", "shared/launchpage.html?content=handicapping"),
        ("havingfun_item", "shared/launchpage.html?content=havingfun"),
        ("assessment_item", "shared/launchpage.html?content=assessment"),
    ]
    assert all(lc.kind is LaunchKind.SCO for lc in result.launchables)

    (entry,) = manifest.sequencing_collection
    assert entry.id == "common_seq_rules"
    assert entry.sequencing.rollup_rules.objective_measure_weight == 0.0
    assert entry.sequencing.delivery_controls.objective_set_by_content is True

    items = manifest.default_organization.items
    prefix = "com.scorm.golfsamples.sequencing.forcedsequential."
    for item in items:
        seq = item.sequencing
        # Collection elements are inherited (IDRef resolution) ...
        assert seq.collection_ref == "common_seq_rules"
        assert seq.rollup_rules.objective_measure_weight == 0.0
        assert seq.rollup_rules.rollup_objective_satisfied is True  # spec default kept
        assert seq.delivery_controls.completion_set_by_content is True
        assert seq.delivery_controls.objective_set_by_content is True
        # ... and the item's own objectives are there too.
        assert "objectives" in seq.declared and "rollup_rules" in seq.declared
        assert seq.control_mode.choice is True  # not declared anywhere: default

    first = items[0].sequencing
    assert first.sequencing_rules.pre_condition == ()
    (mapping,) = first.objectives.primary.map_info
    assert mapping.target_objective_id == prefix + "playing_satisfied"
    assert (mapping.read_satisfied_status, mapping.write_satisfied_status) == (True, True)
    assert (mapping.read_normalized_measure, mapping.write_normalized_measure) == (True, False)

    previous = ["playing", "etiquette", "handicapping", "havingfun"]
    for item, prev in zip(items[1:], previous, strict=True):
        (rule,) = item.sequencing.sequencing_rules.pre_condition
        assert rule.action is RuleAction.DISABLED
        assert rule.condition_combination is ConditionCombination.ANY
        assert [(c.condition, c.operator, c.referenced_objective) for c in rule.conditions] == [
            (RuleConditionType.SATISFIED, ConditionOperator.NOT, "previous_sco_satisfied"),
            (
                RuleConditionType.OBJECTIVE_STATUS_KNOWN,
                ConditionOperator.NOT,
                "previous_sco_satisfied",
            ),
        ]
        assert all(c.measure_threshold == 0.0 for c in rule.conditions)
        gate = item.sequencing.objectives.find("previous_sco_satisfied")
        assert gate is not None and not gate.is_primary
        (gate_map,) = gate.map_info
        assert gate_map.target_objective_id == prefix + f"{prev}_satisfied"
        assert (gate_map.read_satisfied_status, gate_map.write_satisfied_status) == (True, False)
    assert items[-1].sequencing.objectives.primary.map_info == ()
    assert items[-1].sequencing.objectives.primary.objective_id == "assessment_satisfied"
    assert manifest.global_objective_ids() == tuple(
        sorted(
            prefix + f"{name}_satisfied"
            for name in ("playing", "etiquette", "handicapping", "havingfun")
        )
    )
    org_seq = manifest.default_organization.sequencing
    assert (org_seq.control_mode.choice, org_seq.control_mode.flow) == (True, True)
    assert org_seq.collection_ref is None


def test_tincan_golf_with_bom(pkg_fixtures):
    result = inspect_package(pkg_fixtures / TINCAN)
    manifest = result.structure
    assert isinstance(manifest, TinCanManifest)
    (activity,) = manifest.activities
    assert activity.id == "http://id.tincanapi.com/activity/tincan-prototypes/golf-example"
    assert activity.type == "http://adlnet.gov/expapi/activities/course"
    assert activity.launch == "index.html"
    assert activity.launch_lang == "en-us"
    assert activity.description[0].value == "An overview of the sport of golf."
    assert activity.description[0].lang == "en-US"
    assert manifest.launch_activity is activity
    assert result.description == "An overview of the sport of golf."
    assert result.language == "en-us"
    (launch,) = result.launchables
    assert (launch.identifier, launch.launch_url, launch.kind) == (
        activity.id,
        "index.html",
        LaunchKind.XAPI_ACTIVITY,
    )


def test_cmi5_single_au(pkg_fixtures):
    result = inspect_package(pkg_fixtures / CMI5_SINGLE)
    course = result.structure
    assert isinstance(course, Cmi5Course)
    assert course.id == "https://w3id.org/xapi/cmi5/catapult/lts/course/geology-intro-single-au-basic"
    (au,) = course.aus()
    assert au.id == course.id + "/1"
    assert au.move_on is MoveOn.COMPLETED_OR_PASSED
    assert au.mastery_score is None
    assert au.launch_method is LaunchMethod.ANY_WINDOW
    assert au.url == "index.html"
    assert au.launch_parameters is None and au.entitlement_key is None
    assert result.description.startswith("This course will introduce you into the basics")
    assert result.language == "en-US"


def test_cmi5_multi_au(pkg_fixtures):
    course = inspect_package(pkg_fixtures / CMI5_MULTI).structure
    aus = course.aus()
    assert [au.url for au in aus[:7]] == [f"index.html?pages={n}&complete=launch" for n in range(1, 8)]
    assert aus[-1].url == "index.html?pages=quiz&complete=quiz"
    assert [au.move_on for au in aus] == [MoveOn.COMPLETED_OR_PASSED] * 7 + [MoveOn.COMPLETED_AND_PASSED]
    assert aus[-1].display_title == "Quiz"


def test_cmi5_one_thousand_aus_standalone_fast(pkg_fixtures, tmp_path):
    started = time.perf_counter()
    result = extract_package(pkg_fixtures / "cmi5/import-cases/101-one-thousand-aus.xml", tmp_path)
    elapsed = time.perf_counter() - started
    assert result.source_kind == "xml"
    assert result.sco_count == 1001
    assert result.structure.aus()[1000].id.endswith("/0002-one-thousand-aus/1000")
    assert all(lc.launch_url == "http://example.com/index.html" for lc in result.launchables)
    assert (result.content_dir / "cmi5.xml").read_bytes() == (
        pkg_fixtures / "cmi5/import-cases/101-one-thousand-aus.xml"
    ).read_bytes()
    assert elapsed < 2.0


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("201-3-iris-au-id.xml", "cmi5_invalid_id"),
        ("204-query-string-conflict-endpoint.xml", "cmi5_url_param_conflict"),
        ("205-3-duplicated-au.xml", "cmi5_duplicate_id"),
        ("209-1-not-a-zip.zip", "not_a_zip"),
    ],
)
def test_cmi5_import_cases_refused(pkg_fixtures, tmp_path, pkg_listing, case, code):
    before = pkg_listing(tmp_path)
    with pytest.raises(PackageError) as info:
        extract_package(pkg_fixtures / "cmi5/import-cases" / case, tmp_path)
    assert info.value.code == code
    assert pkg_listing(tmp_path) == before


def test_progress_callback_and_summary(pkg_fixtures, tmp_path):
    calls: list[tuple[int, int]] = []
    result = extract_package(
        pkg_fixtures / CMI5_SINGLE,
        tmp_path,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls, "progress was never reported"
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (result.total_size, result.total_size)
    summary = result.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["standard"] == "cmi5"
    assert summary["launchables"][0]["kind"] == "au"
    assert summary["content_dir"] == str(result.content_dir)


@pytest.mark.parametrize("rel", [S2004_SEQ, SCORM12_CP, TINCAN, CMI5_MULTI])
def test_structures_serialise_to_json(pkg_fixtures, rel):
    """The runtime/catalogue can store the parsed structure as JSON (dataclasses.asdict)."""
    structure = inspect_package(pkg_fixtures / rel).structure
    text = json.dumps(dataclasses.asdict(structure))
    assert json.loads(text)["standard"] == structure.standard.value


def test_durable_import_fsyncs_files_folders_and_root(pkg_fixtures, tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    (tmp_path / "durable").mkdir()
    (tmp_path / "plain").mkdir()
    result = extract_package(pkg_fixtures / CMI5_SINGLE, tmp_path / "durable", durable=True)
    folders = sum(1 for p in result.content_dir.rglob("*") if p.is_dir()) + 1
    assert len(synced) == result.file_count + folders + 1  # files, folders, content root
    synced.clear()
    extract_package(pkg_fixtures / CMI5_SINGLE, tmp_path / "plain")
    assert synced == []  # not durable: no fsync
