"""A course version's structure: one source (its manifest), parsed once per checksum, bounded cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lti_tool import catalogue, course_structure
from lti_tool.services import Services
from lti_tool.storage.models import CourseVersion
from scorm.packaging import PackageStructure

SEQ = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
OTHERS = ["scorm12/RuntimeBasicCalls_SCORM12.zip", "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    course_structure.clear_cache()
    yield
    course_structure.clear_cache()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The manifest files parsed through the structure loader."""
    seen: list[str] = []
    real = course_structure.parse_manifest_bytes

    def counting(data: bytes, **kw: object) -> PackageStructure:
        seen.append(str(kw["file"]))
        return real(data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(course_structure, "parse_manifest_bytes", counting)
    return seen


def load(services: Services, version_id: int) -> course_structure.VersionStructure:
    with services.db.session() as s:
        version = s.get(CourseVersion, version_id)
        assert version is not None
        return course_structure.version_structure(services.settings.content_path, version)


def test_parsed_once_per_checksum_and_tree_built_once(
    services: Services, fixtures_dir: Path, parses: list[str]
) -> None:
    outcome = catalogue.import_package(services, fixtures_dir / SEQ)
    first = load(services, outcome.version_id)
    again = load(services, outcome.version_id)
    assert again is first
    assert parses == ["imsmanifest.xml"]
    assert first.tree is not None and first.tree is again.tree
    assert set(first.items) >= {a for a in first.tree.order if a != first.tree.root}
    assert first.manifest is not None and first.manifest.item(next(iter(first.items))) is not None


def test_cache_is_bounded_least_recently_used_first(
    services: Services, fixtures_dir: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(course_structure, "_CACHE", course_structure._LRU(2))
    ids = [catalogue.import_package(services, fixtures_dir / name).version_id for name in [SEQ, *OTHERS]]
    shas = [load(services, version_id).sha256 for version_id in ids[:2]]
    load(services, ids[0])  # the first is now the most recently used
    third = load(services, ids[2])
    cache = course_structure._CACHE
    assert len(cache) == 2
    assert shas[0] in cache and third.sha256 in cache and shas[1] not in cache
    assert len(parses) == 3
    load(services, ids[1])  # evicted: parsed again
    assert len(parses) == 4


def test_import_stores_the_summary_not_a_second_copy_of_the_manifest(
    services: Services, fixtures_dir: Path
) -> None:
    outcome = catalogue.import_package(services, fixtures_dir / SEQ)
    with services.db.session() as s:
        version = s.get(CourseVersion, outcome.version_id)
        assert version is not None
        assert set(version.structure) == {"manifest_file", "launchables", "import_warnings"}


def test_non_scorm_versions_have_no_items_and_no_tree(services: Services, fixtures_dir: Path) -> None:
    outcome = catalogue.import_package(services, fixtures_dir / "cmi5/catapult_single_au_basic_framed.zip")
    found = load(services, outcome.version_id)
    assert found.manifest is None and found.items == {} and found.tree is None
