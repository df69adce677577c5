"""The facts behind docs/decisions/0001-lti-library.md, asserted so they cannot change silently.

``bench/compare_pylti1p3.py`` runs the certification payloads of ``test_lti_certification`` and
the DESIGN.md §5.1 gaps through pylti1p3next (its Flask contrib, unmodified) and through our
``/lti/launch``. If a pylti1p3 release closes a gap, or ours regresses, a test here fails and the
decision must be looked at again. The other tests keep the decision's consequence true: the
runtime does not depend on pylti1p3, and the test extras pin the version that was judged.
"""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import test_lti_certification as cert

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.compare_pylti1p3 import ACCEPTED, Row, run_comparison, summary  # noqa: E402

#: Where pylti1p3next 2.0.2 answers wrongly (DESIGN.md §5.1 names each gap).
PYLTI1P3_WRONG = {
    # aud as an array: it takes aud[0] and never checks the other audiences nor azp
    "extra untrusted aud",
    "azp mismatch",
    # PyJWT is called without required claims: a token with no expiry or issue time passes
    "missing exp",
    "missing iat",
    # roles: only "present" is checked
    "roles not a list",
    # target_link_uri is never compared with the login's (nor required)
    "missing target_link_uri",
    "target_link_uri mismatch",
    # no clock leeway: PyJWT's default of 0 s, not configurable through its options
    "expired within leeway",
    "iat slightly ahead within leeway",
    # the nonce is checked for presence in the store, never consumed: launches replay
    "replay: same id_token and state again",
    "replay: old id_token with a new login's state",
    # a cached key set is not re-fetched for an unknown kid (until its 7200 s lifetime ends)
    "key rotation: launch signed with a new kid, key set cached",
    # ServiceConnector._scope_key hashes issuer + scopes only
    "service-token cache: two client_ids of one issuer share a key",
}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return run_comparison()


def test_every_certification_case_is_compared(rows: list[Row]):
    names = [r.name for r in rows]
    assert names[: len(cert.BAD)] == [b[0] for b in cert.BAD]
    assert names[len(cert.BAD) : len(cert.BAD) + len(cert.VALID)] == [v[0] for v in cert.VALID]
    assert PYLTI1P3_WRONG <= set(names)


def test_ours_answers_every_case_right_with_the_certification_code(rows: list[Row]):
    expected_codes = {name: code for name, _make, code, _status in cert.BAD}
    for row in rows:
        assert row.ours_right, row
        if row.group == "bad":
            assert row.ours == expected_codes[row.name], row


def test_pylti1p3_is_wrong_exactly_where_the_decision_says(rows: list[Row]):
    assert {r.name for r in rows if not r.theirs_right} == PYLTI1P3_WRONG
    # where it refuses a bad payload, it refuses it with one of its own exceptions, never a crash
    for row in rows:
        if row.group == "bad":
            assert row.theirs == ACCEPTED or row.theirs.split(":")[0].endswith("Exception"), row


def test_totals(rows: list[Row]):
    assert summary(rows) == {
        "bad": {"cases": 38, "ours": 38, "pylti1p3": 31},
        "valid": {"cases": 16, "ours": 16, "pylti1p3": 14},
        "gap": {"cases": 4, "ours": 4, "pylti1p3": 0},
    }


# -- the decision's consequences ------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_production_module_imports_pylti1p3():
    offenders = [
        str(path.relative_to(REPO))
        for package in ("lti_tool", "sync", "scorm")
        for path in sorted((REPO / package).rglob("*.py"))
        if {"pylti1p3", "jwcrypto"} & _imports(path)
    ]
    assert offenders == []


def test_the_app_and_cli_load_without_pylti1p3():
    """Importing the app factory, the CLI and the worker never pulls pylti1p3 in."""
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pylti1p3', 'jwcrypto'):\n"
        "            raise ImportError('not a runtime dependency: ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import lti_tool, lti_tool.cli, lti_tool.web, lti_tool.lti.validation, sync.worker\n"
        "from lti_tool import create_app\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _requirements(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_pylti1p3_is_pinned_in_the_test_and_bench_extras_only():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    runtime = _requirements(cfg["options"]["install_requires"])
    extras = cfg["options.extras_require"]
    assert not [r for r in runtime if r.startswith("pylti1p3")]
    pin = f"pylti1p3next=={version('pylti1p3next')}"
    assert pin == "pylti1p3next==2.0.2"  # the release the comparison judged
    assert pin in _requirements(extras["test"])
    assert pin in _requirements(extras["bench"])
