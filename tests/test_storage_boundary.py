"""The storage boundary (docs/ARCHITECTURE.md, "Storage boundary"), checked on the source.

1. Every table has exactly one owner (a module, or a package when the name ends in ``/``); only
   the owner builds queries on it. A module "queries" a table when it uses the table's mapped
   class from ``lti_tool.storage.models`` in code (annotations do not count), uses its
   ``__table__``/``metadata.tables[...]``, or names it in SQL text.
2. Web views (``lti_tool/web/``) and CLI commands (``lti_tool/cli*.py``) build no queries at all:
   no SQLAlchemy import but its exceptions, no mapped class, no ``execute``/``scalars``/``scalar``/
   ``query`` calls. They call the owners.

``PENDING`` lists, module by module, the violations that exist today in modules other work is
rewriting; an entry that no longer occurs fails the test, so the list can only shrink.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lti_tool.devlms.models import DevBase
from lti_tool.storage.models import Base

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("lti_tool", "sync", "scorm")
DEFINITIONS = (
    "lti_tool/storage/models.py",
    "lti_tool/storage/migrations/",
    "lti_tool/devlms/models.py",
    "lti_tool/devlms/migrations/",
)
MODEL_MODULES = ("lti_tool.storage.models", "lti_tool.devlms.models")

OWNERS: dict[str, str] = {
    # The shared core (lti_tool/storage/): tables several packages read and write.
    "courses": "lti_tool/storage/courses.py",
    "course_versions": "lti_tool/storage/courses.py",
    "learner_registrations": "lti_tool/storage/learners.py",
    "attempts": "lti_tool/storage/learners.py",
    "sco_states": "lti_tool/storage/learners.py",
    "grade_outbox": "lti_tool/storage/outbox/",
    # One aggregate each.
    "platforms": "lti_tool/lti/platforms/",
    "deployments": "lti_tool/lti/platforms/",
    "launch_states": "lti_tool/lti/launches.py",
    "lti_launches": "lti_tool/lti/launches.py",
    "service_tokens": "lti_tool/lti/tokens.py",
    "roster_cache": "lti_tool/lti/nrps.py",
    "tool_keys": "lti_tool/keys.py",
    "operators": "lti_tool/operators.py",
    "operator_sessions": "lti_tool/operators.py",
    "rate_limits": "lti_tool/ratelimit.py",
    "audit_log": "lti_tool/audit.py",
    "lrs_credentials": "lti_tool/lrs/credentials.py",
    "lrs_statements": "lti_tool/lrs/store.py",
    "lrs_statement_agents": "lti_tool/lrs/store.py",
    "lrs_statement_activities": "lti_tool/lrs/store.py",
    "lrs_attachments": "lti_tool/lrs/store.py",
    "lrs_activities": "lti_tool/lrs/store.py",
    "lrs_documents": "lti_tool/lrs/documents_store.py",
    # What SCORM 2004 keeps per learner across attempts (global objectives, adl.data stores).
    "learner_shared_state": "lti_tool/runtime/learner_store.py",
    # The development LMS's own tables (own declarative base and migrations, demo mode only).
    "devplatform_resource_links": "lti_tool/devlms/",
    "devplatform_line_items": "lti_tool/devlms/",
    "devplatform_scores": "lti_tool/devlms/",
    # cmi5 AU sessions and per-AU results (the cmi5 delivery).
    "cmi5_au_sessions": "lti_tool/runtime/cmi5_store.py",
    "cmi5_au_records": "lti_tool/runtime/cmi5_store.py",
    # Forwarding to the academies' own LRSs: settings, cursor and lease, and the refused statements.
    "lrs_forwarding": "lti_tool/lrs/forward_store.py",
    "lrs_forward_dead": "lti_tool/lrs/forward_store.py",
}

CROSS_CUTTING: dict[str, str] = {
    # By design, not pending: erasure must remove one learner from every table in ONE transaction,
    # and its inventory (privacy.LEARNER_TABLES, completeness checked by tests/privacy) is the one
    # reviewable list of where learner data lives. It reads and deletes; it never inserts or updates.
    "lti_tool/privacy/registry.py": "the learner data inventory and lookups over every learner table",
    "lti_tool/privacy/erasure.py": "learner data erasure over every learner table",
    "lti_tool/privacy/export.py": "learner data export over every learner table",
}

# Violations that exist today, module by module (the foreign tables each queries). Empty: the
# catalogue's course queries and the runtime's learner and course-version queries live in their
# owners (storage/courses.py, storage/learners.py). A new entry needs a reason in review.
PENDING: dict[str, set[str]] = {}

# Web and CLI modules that still build queries (same helpers as above); they must end up empty.
PENDING_WEB_CLI: dict[str, str] = {}

QUERY_CALLS = {"execute", "scalars", "scalar", "exec_driver_sql", "query"}
SQL_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+\"?([a-z_][a-z0-9_]*)", re.IGNORECASE)


def mapped_tables() -> dict[str, str]:
    """Mapped class name -> table name (the tool's tables and the development LMS's)."""
    mappers = [*Base.registry.mappers, *DevBase.registry.mappers]
    return {m.class_.__name__: m.local_table.name for m in mappers}


def modules() -> Iterator[tuple[str, str]]:
    """(repo-relative path, source) of every scanned module."""
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if not rel.startswith(DEFINITIONS):
                yield rel, path.read_text(encoding="utf-8")


def _code_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except annotations, docstrings and bare string statements, and TYPE_CHECKING blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        for name, child in ast.iter_fields(node):
            if name in ("annotation", "returns"):
                continue
            if isinstance(child, ast.AST):
                stack.append(child)
            elif isinstance(child, list):
                stack.extend(c for c in child if isinstance(c, ast.AST))


def tables_queried(source: str, classes: dict[str, str] | None = None) -> set[str]:
    """The tables a module builds queries on (see the module docstring)."""
    classes = classes if classes is not None else mapped_tables()
    tables = set(classes.values())
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    module_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in MODEL_MODULES:
            aliases.update({a.asname or a.name: classes[a.name] for a in node.names if a.name in classes})
        elif isinstance(node, ast.ImportFrom) and node.module in ("lti_tool.storage", "lti_tool.devlms"):
            module_aliases.update(a.asname or a.name for a in node.names if a.name == "models")
        elif isinstance(node, ast.Import):
            module_aliases.update(a.asname for a in node.names if a.name in MODEL_MODULES and a.asname)
    found: set[str] = set()
    for node in _code_nodes(tree):
        if isinstance(node, ast.Name) and node.id in aliases and isinstance(node.ctx, ast.Load):
            found.add(aliases[node.id])
        elif isinstance(node, ast.Attribute) and node.attr in classes:
            if isinstance(node.value, ast.Name) and node.value.id in module_aliases:
                found.add(classes[node.attr])
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "tables":
            key = node.slice
            if isinstance(key, ast.Constant) and key.value in tables:
                found.add(str(key.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(t for t in SQL_TABLE.findall(node.value) if t in tables)
    return found


def query_code(source: str, classes: dict[str, str] | None = None) -> list[str]:
    """What makes a module query code (for web views and CLI commands, which must have none)."""
    tree = ast.parse(source)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            if node.module != "sqlalchemy.exc":
                problems.append(f"line {node.lineno}: imports from {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqlalchemy" for a in node.names):
            problems.append(f"line {node.lineno}: imports sqlalchemy")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_CALLS
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("re", "json"))
        ):
            problems.append(f"line {node.lineno}: calls .{node.func.attr}()")
    problems += [f"queries table {t}" for t in sorted(tables_queried(source, classes))]
    return problems


def _owns(module: str, owner: str) -> bool:
    return module.startswith(owner) if owner.endswith("/") else module == owner


def _is_web_or_cli(module: str) -> bool:
    return module.startswith("lti_tool/web/") or re.fullmatch(r"lti_tool/cli(_\w+)?\.py", module) is not None


def test_every_table_has_exactly_one_owner_that_exists() -> None:
    tables = {*Base.metadata.tables, *DevBase.metadata.tables}
    assert set(OWNERS) == tables, "a new table needs an owner in OWNERS (and ARCHITECTURE.md)"
    for owner in set(OWNERS.values()):
        assert (REPO / owner).exists(), owner


def test_only_owners_query_their_tables() -> None:
    classes = mapped_tables()
    violations: dict[str, set[str]] = {}
    for module, source in modules():
        if module in CROSS_CUTTING:
            continue
        foreign = {t for t in tables_queried(source, classes) if not _owns(module, OWNERS[t])}
        if foreign:
            violations[module] = foreign
    new = {m: sorted(t - PENDING.get(m, set())) for m, t in violations.items() if t - PENDING.get(m, set())}
    assert new == {}, "query these tables through their owner (OWNERS), not directly"
    stale = {m: sorted(t - violations.get(m, set())) for m, t in PENDING.items() if t - violations.get(m, set())}
    assert stale == {}, "these PENDING entries are fixed: remove them from the allow-list"


def test_web_views_and_cli_commands_build_no_queries() -> None:
    classes = mapped_tables()
    found = {m: query_code(s, classes) for m, s in modules() if _is_web_or_cli(m)}
    offending = {m: p for m, p in found.items() if p and m not in PENDING_WEB_CLI}
    assert offending == {}, "web views and CLI commands call the owners' functions"
    stale = [m for m in PENDING_WEB_CLI if not found.get(m)]
    assert stale == [], "these PENDING_WEB_CLI entries are fixed: remove them from the allow-list"


PLANTED = {
    "a view selecting platforms": (
        "from sqlalchemy import select\nfrom lti_tool.storage.models import Platform\n"
        "def view(s):\n    return s.scalars(select(Platform)).all()\n",
        {"platforms"},
    ),
    "raw SQL through a connection": (
        "def purge(conn):\n    conn.exec_driver_sql('DELETE FROM operator_sessions WHERE 1=1')\n",
        {"operator_sessions"},
    ),
    "the models module under an alias": (
        "from lti_tool.storage import models as m\ndef n(s):\n    return s.get(m.Attempt, 1)\n",
        {"attempts"},
    ),
    "a Core table by name": (
        "from lti_tool.storage.models import Base\nT = Base.metadata.tables['sco_states']\n",
        {"sco_states"},
    ),
    "only an annotation, a docstring and a TYPE_CHECKING import (allowed)": (
        '"""Reads FROM platforms, in prose."""\nfrom typing import TYPE_CHECKING\n'
        "if TYPE_CHECKING:\n    from lti_tool.storage.models import Course\n"
        "from lti_tool.storage.models import Attempt\n"
        "def f(a: Attempt) -> 'Course':\n    return a\n",
        set(),
    ),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_the_checker_sees_planted_violations(case: str) -> None:
    source, tables = PLANTED[case]
    assert tables_queried(source) == tables
    assert bool(query_code(source)) == bool(tables)  # in a web or CLI module, each is a violation


def test_the_checker_fails_on_a_view_that_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted query in a real web module makes the boundary tests fail."""
    admin = (REPO / "lti_tool/web/admin.py").read_text(encoding="utf-8")
    planted = (
        admin
        + "\n\nfrom sqlalchemy import select\nfrom lti_tool.storage.models import Course\n\n\n"
        + ("def _count(s):\n    return s.scalars(select(Course)).all()\n")
    )
    real = dict(modules())

    def with_plant() -> Iterator[tuple[str, str]]:
        for module, source in real.items():
            yield module, planted if module == "lti_tool/web/admin.py" else source

    monkeypatch.setattr(sys.modules[__name__], "modules", with_plant)
    with pytest.raises(AssertionError):
        test_only_owners_query_their_tables()
    with pytest.raises(AssertionError):
        test_web_views_and_cli_commands_build_no_queries()


@pytest.mark.parametrize(
    ("module", "plant"),
    [
        ("lti_tool/regional.py", "from lti_tool.storage.models import Platform\nN = select(Platform.name)\n"),
        ("lti_tool/lti/nrps.py", "from lti_tool.storage.models import Platform\nP = Platform.__table__\n"),
        ("lti_tool/grades.py", "def _rows(conn):\n    return conn.exec_driver_sql('SELECT * FROM grade_outbox')\n"),
        ("lti_tool/catalogue.py", "from lti_tool.storage.models import Course\nC = select(Course.key)\n"),
        ("lti_tool/runtime/commits.py", "from lti_tool.storage.models import Attempt\n"
         "def _a(s, i):\n    return s.get(Attempt, i)\n"),
        ("lti_tool/runtime/sessions.py", "from lti_tool.storage import models as m\nR = m.ScoState(item_id='x')\n"),
        ("lti_tool/runtime/store.py", "def _n(conn):\n"
         "    return conn.exec_driver_sql('SELECT id FROM learner_registrations')\n"),
    ],
)
def test_a_cleaned_module_that_queries_again_fails(module: str, plant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules whose queries moved to their owners have no allow-list entry: a new query fails."""
    assert module not in PENDING
    real = dict(modules())

    def with_plant() -> Iterator[tuple[str, str]]:
        for name, source in real.items():
            yield name, source + "\n\n" + plant if name == module else source

    monkeypatch.setattr(sys.modules[__name__], "modules", with_plant)
    with pytest.raises(AssertionError):
        test_only_owners_query_their_tables()
