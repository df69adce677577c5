"""Migration 0018: the LRS's index rows (WITHOUT ROWID link tables on SQLite, partial indexes).

Rows stored before the migration survive it and its downgrade, the GET filters still find them,
and the queries that need the changed indexes still use them (SQLite's query plan).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from lti_tool.lrs import store
from lti_tool.services import Services
from scorm.xapi import normalize_statement

ACT = "https://courses.example.org/act/1"
AGENT = {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "u1"}}


def _store(services: Services, n: int, registration: str) -> list[str]:
    now = datetime.now(UTC)
    batch = []
    for i in range(n):
        st = normalize_statement(
            {
                "id": str(uuid.uuid4()),
                "actor": AGENT,
                "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": ACT if i % 2 == 0 else f"{ACT}/{i}"},
                "context": {"registration": registration} if i % 3 else {},
            }
        )
        st.update(stored=store.iso(now), timestamp=store.iso(now), version="1.0.0")
        batch.append(store.NewStatement(statement=st))
    with services.db.session() as session:
        return store.insert_statements(session, "", batch, credential_id=None, stored=now)


def _found(services: Services, **filters: object) -> set[str]:
    with services.db.session() as session:
        rows, _more, _max = store.query_statements(session, "", store.StatementQuery(**filters))  # type: ignore[arg-type]
        return {store.json.loads(payload)["id"] for _seq, payload, _h, _s in rows}


def _agent_key() -> str:
    return "account:https://lms.example.org|u1"


def test_rows_survive_the_migration_both_ways_and_every_filter_finds_them(services: Services) -> None:
    registration = str(uuid.uuid4())
    cfg = services.db._alembic_config()
    command.downgrade(cfg, "0018_lrs_index_rows-1")  # the schema of 0012: rows written there first
    ids = _store(services, 12, registration)
    services.db.upgrade()
    assert services.db.current_revisions() == services.db.head_revisions()
    with_reg = {sid for i, sid in enumerate(ids) if i % 3}
    assert _found(services, registration=registration) == with_reg
    assert _found(services, agent=_agent_key()) == set(ids)
    assert _found(services, activity=ACT) == {sid for i, sid in enumerate(ids) if i % 2 == 0}
    more = _store(services, 6, registration)  # written on the new schema
    assert _found(services, agent=_agent_key()) == set(ids) | set(more)
    command.downgrade(cfg, "0018_lrs_index_rows-1")
    assert _found(services, agent=_agent_key()) == set(ids) | set(more)
    assert _found(services, registration=registration) == with_reg | {s for i, s in enumerate(more) if i % 3}
    services.db.upgrade()


def test_link_tables_are_without_rowid_and_indexes_partial(services: Services) -> None:
    with services.db.engine.connect() as conn:
        indexes = {ix["name"]: ix for ix in inspect(conn).get_indexes("lrs_statements")}
        if conn.dialect.name == "sqlite":
            for table in ("lrs_statement_agents", "lrs_statement_activities"):
                sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}).scalar_one()
                assert sql.rstrip().endswith("WITHOUT ROWID"), sql
            where = {
                name: conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}).scalar_one()
                for name in ("ix_lrs_statements_ref", "ix_lrs_statements_registration")
            }
            assert "WHERE ref_target IS NOT NULL" in where["ix_lrs_statements_ref"]
            assert "WHERE registration IS NOT NULL" in where["ix_lrs_statements_registration"]
        else:
            defs = dict(
                conn.execute(
                    text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'lrs_statements'")
                ).all()
            )
            assert "WHERE (ref_target IS NOT NULL)" in defs["ix_lrs_statements_ref"]
            assert "WHERE (registration IS NOT NULL)" in defs["ix_lrs_statements_registration"]
        assert "ix_lrs_statements_verb" in indexes


def test_sqlite_plans_still_use_the_indexes(services: Services) -> None:
    if services.db.dialect != "sqlite":
        return
    _store(services, 6, str(uuid.uuid4()))
    with services.db.engine.connect() as conn:

        def plan(sql: str) -> str:
            return " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))

        by_reg = plan("SELECT seq FROM lrs_statements WHERE tenant = '' AND registration = 'x' ORDER BY seq DESC")
        assert "ix_lrs_statements_registration" in by_reg, by_reg
        by_ref = plan("SELECT seq FROM lrs_statements WHERE tenant = '' AND ref_target = 'x'")
        assert "ix_lrs_statements_ref" in by_ref, by_ref
        owner = plan("SELECT agent_key FROM lrs_statement_agents WHERE seq = 3")
        assert "PRIMARY KEY" in owner or "sqlite_autoindex" in owner, owner
        by_agent = plan("SELECT seq FROM lrs_statement_agents WHERE agent_key = 'k' AND direct = 1")
        assert "ix_lrs_statement_agents_key" in by_agent, by_agent
