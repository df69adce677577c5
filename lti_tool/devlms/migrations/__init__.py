"""The development LMS's Alembic migrations (demo mode only; its own version table)."""
