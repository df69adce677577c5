"""Data lifecycle: learner export, one-learner erasure, the audit log; on SQLite and PostgreSQL.

The learners' data is made by the real runtime (launch → attempt → SCO session → commit with a
score → grade outbox row) on a real SCORM 1.2 package, plus the launch, login and roster rows the
LTI layer writes.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select

from lti_tool import audit, privacy
from lti_tool.cli import CliContext, cli
from lti_tool.lti.context import Launch
from lti_tool.privacy import export as privacy_export
from lti_tool.runtime import service
from lti_tool.services import Services
from lti_tool.storage.models import (
    AuditEntry,
    Base,
    GradeOutbox,
    LaunchState,
    LearnerRegistration,
    LtiLaunch,
    RosterCache,
    ScoState,
)

GOLF12 = factories.GOLF12
LEARNER = factories.LEARNER
HOSTILE = "o'brien\"; DROP TABLE learner_registrations;--%_\\"


@dataclass
class World:
    """Two academies; ``ana`` is a learner on both (two people with the same ``sub``)."""

    p1: int
    p2: int
    course_key: str


def _platform(services: Services, issuer: str) -> int:
    return factories.add_platform(services.db, issuer=issuer, name=f"Academy {issuer}")


def launch_for(world: World, platform_id: int, sub: str, *, link: str = "rl-1", launch_id: str = "x") -> Launch:
    issuer = "https://one.example" if platform_id == world.p1 else "https://two.example"
    return factories.launch(
        world.course_key,
        platform_id=platform_id,
        sub=sub,
        link=link,
        launch_id=launch_id,
        claims=factories.ags_claim(f"{issuer}/lineitems/1"),
        issuer=issuer,
        context_title="Intake 12",
        name=f"Name of {sub}",
        email=f"{len(sub)}@example.org",
    )


def learn(
    services: Services, world: World, platform_id: int, sub: str, *, link: str = "rl-1", score: str = "80"
) -> str:
    """One learner's launch, SCO session and scored commit; also the launch row and a login row."""
    launch = launch_for(world, platform_id, sub, link=link, launch_id=f"{platform_id}-{sub}-{link}"[:64])
    opened, _ = factories.start_attempt(services, launch, learner_name="n")
    item = opened.current_item or ""
    changes = {"cmi.core.score.raw": score, "cmi.core.lesson_status": "passed", "cmi.suspend_data": f"data-{sub}"}
    service.commit(services, opened.attempt_id, item, {"seq": 1, "changes": changes})
    now = datetime.now(UTC)
    with services.db.session() as s:
        s.add(
            LtiLaunch(
                id=launch.id,
                platform_id=platform_id,
                issuer=launch.issuer,
                client_id="client-1",
                deployment_id="dep-1",
                message_type=launch.message_type,
                sub=sub,
                context_id="course-7",
                resource_link_id=link,
                claims={"sub": sub, "name": launch.name, "email": launch.email},
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        s.add(
            LaunchState(
                state=f"st-{launch.id}"[:128],
                nonce=f"n-{launch.id}"[:128],
                issuer=launch.issuer,
                client_id="client-1",
                target_link_uri="https://tool/lti/launch",
                expires_at=now + timedelta(minutes=5),
                login_hint=sub,
            )
        )
    return opened.attempt_id


def roster(services: Services, platform_id: int, context: str, subs: list[str]) -> None:
    with services.db.session() as s:
        s.add(
            RosterCache(
                platform_id=platform_id,
                deployment_id="dep-1",
                context_id=context,
                link_key="",
                level="context",
                context={"id": context},
                members=[{"user_id": sub, "roles": [LEARNER], "name": f"Name of {sub}"} for sub in subs],
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )


@pytest.fixture
def world(services: Services, fixtures_dir: Path) -> World:
    course = factories.import_course(services, fixtures_dir / GOLF12)
    built = World(
        p1=_platform(services, "https://one.example"),
        p2=_platform(services, "https://two.example"),
        course_key=course.course_key,
    )
    learn(services, built, built.p1, "ana")
    learn(services, built, built.p1, "ana", link="rl-2", score="60")
    learn(services, built, built.p1, "bob", score="90")
    learn(services, built, built.p1, HOSTILE, score="70")
    learn(services, built, built.p2, "ana", score="40")  # same sub, another academy: another person
    roster(services, built.p1, "course-7", ["ana", "bob"])
    roster(services, built.p1, "course-8", ["bob"])
    roster(services, built.p2, "course-7", ["ana"])
    return built


def snapshot(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every row of every learner table, as plain dicts (to compare before/after)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with services.db.engine.connect() as conn:
        for name in privacy.registry_tables():
            table = Base.metadata.tables[name]
            rows = conn.execute(select(table)).mappings().all()
            out[name] = sorted((dict(r) for r in rows), key=lambda r: json.dumps(r, default=str, sort_keys=True))
    return out


def audit_rows(services: Services) -> list[AuditEntry]:
    with services.db.session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- export --------------------------------------------------------------------------------------


def test_platform_export_holds_its_learners_only_in_a_private_file(
    services: Services, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy_export, "EXPORT_PAGE", 2)  # several keyset pages (read by the export module)
    out = tmp_path / "academy-one.jsonl"
    report = privacy.export_learners(services.db, platform_id=world.p1, out_path=out, actor="cli:t", source="cli")
    assert report.registrations == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = read_lines(out)
    assert sorted((r["learner"]["sub"], r["resource_link"]["id"]) for r in lines) == sorted(
        [("ana", "rl-1"), ("ana", "rl-2"), ("bob", "rl-1"), (HOSTILE, "rl-1")]
    )
    assert {r["platform"]["id"] for r in lines} == {world.p1}  # nothing of the other academy
    bob = next(r for r in lines if r["learner"]["sub"] == "bob")
    assert bob["learner"]["name"] == "Name of bob" and bob["learner"]["email"] == "3@example.org"
    assert bob["context"] == {"id": "course-7", "title": "Intake 12"}
    assert bob["deployment_id"] == "dep-1" and bob["course"]["key"] == world.course_key
    (attempt,) = bob["attempts"]
    assert attempt["number"] == 1 and attempt["status"] == "active" and attempt["outcome"]["score_scaled"] == 0.9
    (sco,) = attempt["sco_states"]
    assert sco["state"]["values"]["cmi.suspend_data"] == "data-bob"
    (grade,) = bob["grades"]
    assert grade["status"] == "pending" and grade["score_given"] == 90.0 and grade["line_item"].endswith("/lineitems/1")
    ana = [r for r in lines if r["learner"]["sub"] == "ana"]
    assert sorted(r["attempts"][0]["outcome"]["score_scaled"] for r in ana) == [0.6, 0.8]
    assert not list(tmp_path.glob("*.partial"))
    (entry,) = audit_rows(services)
    assert (entry.action, entry.outcome, entry.platform_id, entry.actor, entry.source) == (
        "learners.export",
        "ok",
        world.p1,
        "cli:t",
        "cli",
    )
    assert entry.params == {"platform_id": world.p1, "learner": None, "destination": "file", "registrations": 4}


def test_one_learner_export_is_a_subject_access_request(services: Services, world: World, tmp_path: Path) -> None:
    out = tmp_path / "ana.jsonl"
    privacy.export_learners(services.db, platform_id=world.p2, sub="ana", out_path=out, actor="op", source="10.0.0.9")
    (line,) = read_lines(out)
    assert line["learner"]["sub"] == "ana" and line["platform"]["id"] == world.p2
    assert line["attempts"][0]["outcome"]["score_scaled"] == 0.4  # the P2 ana, not the P1 ana
    hostile = tmp_path / "hostile.jsonl"
    privacy.export_learners(services.db, platform_id=world.p1, sub=HOSTILE, out_path=hostile, actor="op", source="cli")
    assert [r["learner"]["sub"] for r in read_lines(hostile)] == [HOSTILE]
    assert [e.params["learner"] for e in audit_rows(services)] == ["ana", HOSTILE]


def test_export_refusals_are_precise_and_audited(services: Services, world: World, tmp_path: Path) -> None:
    with pytest.raises(privacy.UnknownPlatform):
        privacy.export_learners(services.db, platform_id=999, out_path=tmp_path / "a", actor="op", source="cli")
    with pytest.raises(privacy.UnknownLearner):
        privacy.export_learners(
            services.db, platform_id=world.p1, sub="zoe", out_path=tmp_path / "b", actor="op", source="cli"
        )
    existing = tmp_path / "c"
    existing.write_text("keep")
    with pytest.raises(FileExistsError):
        privacy.export_learners(services.db, platform_id=world.p1, out_path=existing, actor="op", source="cli")
    assert existing.read_text() == "keep"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [(e.outcome, e.platform_id) for e in audit_rows(services)] == [
        ("refused", None),
        ("refused", world.p1),
        ("refused", world.p1),
    ]


# -- erasure -------------------------------------------------------------------------------------


def test_erasure_removes_exactly_that_learner_on_that_platform(services: Services, world: World) -> None:
    before = snapshot(services)
    report = privacy.erase_learner(services.db, platform_id=world.p1, sub="ana", actor="cli:root", source="cli")
    assert report.counts == {
        "cmi5_au_sessions": 0,  # no cmi5 course here
        "cmi5_au_records": 0,
        "sco_states": 2,
        "attempts": 2,
        "learner_shared_state": 0,  # no SCORM 2004 shared state here (see tests/runtime/test_learner_store.py)
        "grade_outbox": 2,
        "learner_registrations": 2,
        "roster_cache": 1,
        "lrs_statement_activities": 0,  # this learner used no xAPI course (see test_privacy_lrs.py)
        "lrs_forward_dead": 0,
        "lrs_statements": 0,
        "lrs_statement_agents": 0,
        "lrs_documents": 0,
        "lrs_credentials": 0,
        "lti_launches": 2,
        "launch_states": 2,
    }
    assert report.undelivered_scores == 2 and any("will not be sent" in n for n in report.notes)
    after = snapshot(services)
    for table, rows in before.items():
        removed = [r for r in rows if r not in after[table]]
        assert len(removed) == report.counts[table], table
        assert all(r in rows for r in after[table])  # nothing else changed
    # what is left: bob, the hostile sub, and the other academy's ana, untouched
    with services.db.session() as s:
        left = sorted(s.execute(select(LearnerRegistration.platform_id, LearnerRegistration.learner_sub)).all())
        assert left == sorted([(world.p1, "bob"), (world.p1, HOSTILE), (world.p2, "ana")])
        assert sorted(s.scalars(select(GradeOutbox.user_id).where(GradeOutbox.platform_key == str(world.p2)))) == [
            "ana"
        ]
        assert s.scalar(select(func.count()).select_from(LtiLaunch).where(LtiLaunch.sub == "ana")) == 1
        assert [r.context_id for r in s.scalars(select(RosterCache).where(RosterCache.platform_id == world.p1))] == [
            "course-8"
        ]
    (entry,) = audit_rows(services)
    assert (entry.action, entry.outcome, entry.platform_id) == ("learners.erase", "ok", world.p1)
    assert entry.params == {"platform_id": world.p1, "learner": "ana", "removed": report.counts}
    with pytest.raises(privacy.UnknownLearner):  # a second request: nothing held any more
        privacy.erase_learner(services.db, platform_id=world.p1, sub="ana", actor="cli:root", source="cli")


def test_erasure_of_a_hostile_sub_touches_nothing_else(services: Services, world: World) -> None:
    report = privacy.erase_learner(services.db, platform_id=world.p1, sub=HOSTILE, actor="op", source="cli")
    assert report.counts["learner_registrations"] == 1 and report.counts["roster_cache"] == 0
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(LearnerRegistration)) == 4


def test_erasure_is_atomic(services: Services, world: World) -> None:
    def explode(row: Any, learner: privacy.Learner) -> bool:
        raise RuntimeError("disk on fire")

    entries = list(privacy.LEARNER_TABLES)
    entries.insert(
        4,
        privacy.LearnerTable(
            table="roster_cache", where=lambda k: RosterCache.platform_id == k.platform_id, refine=explode
        ),
    )
    before = snapshot(services)
    with pytest.raises(RuntimeError, match="disk on fire"):
        privacy.erase_learner(services.db, platform_id=world.p1, sub="ana", actor="op", source="cli", tables=entries)
    assert snapshot(services) == before  # sco states, attempts, outbox and registrations deleted first: all back
    (entry,) = audit_rows(services)
    assert (entry.action, entry.outcome) == ("learners.erase", "failed")
    assert "removed" not in entry.params


@pytest.mark.parametrize(
    ("platform", "sub", "error"),
    [
        (999, "ana", privacy.UnknownPlatform),
        (None, "zoe", privacy.UnknownLearner),
        (None, "", privacy.InvalidLearner),
        (None, "x" * 300, privacy.InvalidLearner),
        (None, "' OR '1'='1", privacy.UnknownLearner),
        (None, "%", privacy.UnknownLearner),
    ],
)
def test_erasure_refusals(services: Services, world: World, platform: int | None, sub: str, error: type) -> None:
    before = snapshot(services)
    with pytest.raises(error):
        privacy.erase_learner(services.db, platform_id=platform or world.p1, sub=sub, actor="op", source="cli")
    assert snapshot(services) == before
    (entry,) = audit_rows(services)
    assert entry.outcome == "refused" and len(entry.params["learner"]) <= privacy.MAX_SUB_LENGTH


def test_relaunch_after_erasure_starts_fresh(services: Services, world: World) -> None:
    old = service.open_attempt(services, launch_for(world, world.p1, "bob"))
    assert old.number == 2  # bob passed attempt 1: the tool remembers it
    privacy.erase_learner(services.db, platform_id=world.p1, sub="bob", actor="op", source="cli")
    fresh = service.open_attempt(services, launch_for(world, world.p1, "bob"))
    assert (fresh.number, fresh.resumed) == (1, False) and fresh.attempt_id != old.attempt_id
    session = service.start_item_session(
        services, fresh.attempt_id, fresh.current_item or "", learner_id="bob", learner_name="b"
    )
    assert session.state.get("values", {}).get("cmi.suspend_data") in (None, "")
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ScoState).where(ScoState.attempt_id == old.attempt_id)) == 0


# -- the registry is complete ----------------------------------------------------------------------

#: Column names that identify a learner or hold what a learner did.
LEARNER_COLUMNS = {
    "sub", "learner_sub", "user_id", "login_hint", "members", "email", "learner",
    "registration", "registration_id", "attempt_id", "actor", "agent", "statement",
}  # fmt: skip


def unregistered_learner_tables(engine: Any) -> list[str]:
    """Tables of the migrated database with a learner column (or a learner table parent), unlisted."""
    inspector = inspect(engine)  # the migrated database, not only the models
    known = set(privacy.registry_tables())
    listed = known | set(privacy.NOT_LEARNER_DATA)
    missing = []
    for table in inspector.get_table_names():
        columns = {c["name"] for c in inspector.get_columns(table)}
        parents = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
        if (columns & LEARNER_COLUMNS or parents & known) and table not in listed:
            missing.append(table)
    return missing


def test_every_table_with_learner_data_is_in_the_registry(services: Services) -> None:
    """A new table with a learner column (or a child of a learner table) must be registered or excused."""
    assert unregistered_learner_tables(services.db.engine) == [], "add them to privacy.LEARNER_TABLES"
    known = set(privacy.registry_tables())
    assert not known & set(privacy.NOT_LEARNER_DATA)
    assert known <= set(inspect(services.db.engine).get_table_names())
    assert {"learner_registrations", "attempts", "sco_states", "grade_outbox", "roster_cache", "lti_launches"} <= known


def test_a_forgotten_learner_table_is_caught(services: Services) -> None:
    """What the LRS branch's statements table would trip if it were not added to the registry."""
    with services.db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE lrs_statements_probe (id INTEGER PRIMARY KEY, actor TEXT)")
    try:
        assert unregistered_learner_tables(services.db.engine) == ["lrs_statements_probe"]
    finally:
        with services.db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE lrs_statements_probe")


# -- audit ---------------------------------------------------------------------------------------


def test_audit_refuses_personal_data_and_secrets(services: Services) -> None:
    with services.db.session() as s:
        for params in ({"email": "a@b"}, {"token": "x"}, {"blob": "x" * 5000}, {"when": datetime.now(UTC)}):
            with pytest.raises(audit.AuditError):
                audit.record(s, actor="op", action="learners.export", source="cli", params=params)
        with pytest.raises(audit.AuditError):
            audit.record(s, actor="", action="learners.export", source="cli")
    assert audit_rows(services) == []


def test_audit_list_filters_and_pages(services: Services) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    with services.db.session() as s:
        for i in range(7):
            audit.record(s, actor="op", action="learners.export", source="cli", platform_id=1 + i % 2, params={"i": i})
        audit.record(s, actor="op", action="learners.erase", source="1.2.3.4", platform_id=1, at=old)
    assert [e.params["i"] for e in audit.iter_entries(services.db, action="learners.export", page=3)] == list(
        range(6, -1, -1)
    )
    assert [e.action for e in audit.list_entries(services.db, since=old + timedelta(days=1))] == ["learners.export"] * 7
    assert len(audit.list_entries(services.db, action="learners.")) == 8
    assert len(audit.list_entries(services.db, action="learners%")) == 0  # no wildcard injection
    assert {e.platform_id for e in audit.list_entries(services.db, platform_id=2)} == {2}
    page = audit.list_entries(services.db, limit=5)
    rest = audit.list_entries(services.db, before_id=page[-1].id, limit=5)
    assert len(page) == 5 and len(rest) == 3 and page[-1].id > rest[0].id


# -- command line --------------------------------------------------------------------------------


@pytest.fixture
def runner_ctx(settings: Any, services: Services) -> Iterator[CliContext]:
    ctx = CliContext(None)
    ctx._settings, ctx._services = settings, services
    yield ctx


def run(ctx: CliContext, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=ctx, input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_export_erase_and_audit(runner_ctx: CliContext, services: Services, world: World, tmp_path: Path) -> None:
    out = tmp_path / "one.jsonl"
    code, stdout, _ = run(runner_ctx, "learners", "export", "--platform", str(world.p1), "--out", str(out))
    assert code == 0 and "exported 4 registration(s)" in stdout and stat.S_IMODE(out.stat().st_mode) == 0o600
    code, stdout, stderr = run(runner_ctx, "learners", "export", "--platform", str(world.p2))
    assert code == 0 and [json.loads(x)["learner"]["sub"] for x in stdout.splitlines()] == ["ana"]
    assert "exported 1 registration(s)" in stderr
    code, stdout, _ = run(runner_ctx, "learners", "erase", "--platform", str(world.p1), "--learner", "bob", stdin="n\n")
    assert code == 1 and "nothing erased" in stdout and "learner_registrations: 1" in stdout
    code, stdout, _ = run(runner_ctx, "learners", "erase", "--platform", str(world.p1), "--learner", "bob", "--yes")
    assert code == 0 and "learner_registrations: 1" in stdout and "sco_states: 1" in stdout
    assert "will not be sent" in stdout
    code, _, stderr = run(runner_ctx, "learners", "erase", "--platform", str(world.p1), "--learner", "bob", "--yes")
    assert code == 2 and "nothing is held about learner 'bob'" in stderr
    code, _, stderr = run(runner_ctx, "learners", "erase", "--platform", "77", "--learner", "bob", "--yes")
    assert code == 2 and "no platform 77" in stderr
    code, stdout, _ = run(runner_ctx, "audit", "list", "--json")
    entries = [json.loads(x) for x in stdout.splitlines()]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("learners.erase", "refused"),
        ("learners.erase", "refused"),
        ("learners.erase", "ok"),
        ("learners.export", "ok"),
        ("learners.export", "ok"),
    ]
    assert all(e["actor"].startswith("cli:") and e["source"] == "cli" for e in entries)
    assert "Name of" not in stdout and "@example.org" not in stdout  # no personal data beyond the sub
    code, stdout, _ = run(runner_ctx, "audit", "list", "--action", "learners.export", "--since", "2000-01-01")
    assert code == 0 and stdout.count("learners.export") == 2 and "learners.erase" not in stdout
    code, _, stderr = run(runner_ctx, "audit", "list", "--since", "yesterday")
    assert code == 2 and "--since" in stderr
    missing = tmp_path / "no-such-dir" / "x.jsonl"
    code, _, stderr = run(runner_ctx, "learners", "export", "--platform", str(world.p1), "--out", str(missing))
    assert code == 2 and "cannot write" in stderr and "Traceback" not in stderr
    assert [e.outcome for e in audit_rows(services)][-1] == "failed"


def test_migration_0014_downgrades(postgres_url: str | None, tmp_path: Path) -> None:
    """Expand-only: the audit table comes and goes alone (SQLite file; PostgreSQL is covered by the suite)."""
    from alembic import command

    from lti_tool.storage import Database

    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade()
    cfg = db._alembic_config()
    command.downgrade(cfg, "0014_audit_log@-1")
    assert "audit_log" not in inspect(create_engine(db.url)).get_table_names()
    db.upgrade()
    assert "audit_log" in inspect(db.engine).get_table_names()
    db.dispose()
