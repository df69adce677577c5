"""Alembic environment of the development LMS's tables (demo mode only).

A migration environment of its own, with its own version table, beside the tool's
(``lti_tool/storage/migrations``): ``alembic_version`` of a production database never names a
development-LMS revision, and the tool's schema check never waits for one.
"""

from __future__ import annotations

from alembic import context

from lti_tool.devlms.models import DevBase
from lti_tool.devlms.schema import VERSION_TABLE

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=DevBase.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=engine.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
