"""Demo seed: what ``cbsi-connect demo`` puts in a fresh instance.

Each feature adds its own seed step here (the development platform registration, the sample
course); every step is idempotent so the demo can be restarted on the same instance.
"""

from __future__ import annotations

from lti_tool.services import Services


def seed(services: Services) -> list[str]:
    """Seed the demo instance; returns human-readable lines about what is there."""
    kid = services.keys.signing_key().kid
    return [f"tool key: {kid}"]
