"""Fixtures of the LTI tests (defined in lti_helpers)."""

from __future__ import annotations

from lti_helpers import peer

__all__ = ["peer"]
