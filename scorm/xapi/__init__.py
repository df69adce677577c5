"""xAPI statement rules (1.0.3 and 2.0.0), framework-free: validation, normalisation, agent keys."""

from __future__ import annotations

from scorm.xapi.normalize import agent_key, agent_keys_of, format_statement, normalize_statement
from scorm.xapi.statement import (
    SUPPORTED_VERSIONS,
    StatementError,
    validate_activity,
    validate_agent,
    validate_statement,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "StatementError",
    "agent_key",
    "agent_keys_of",
    "format_statement",
    "normalize_statement",
    "validate_activity",
    "validate_agent",
    "validate_statement",
]
