"""Demo seed: what ``cbsi-connect demo`` puts in a fresh instance.

Each feature adds its own seed step here (the development platform registration, the sample
course); every step is idempotent so the demo can be restarted on the same instance.
"""

from __future__ import annotations

from lti_tool.services import Services


def seed(services: Services) -> list[str]:
    """Seed the demo instance; returns human-readable lines about what is there."""
    kid = services.keys.signing_key().kid
    from lti_tool.lti.devplatform import ensure_registered

    dev = ensure_registered(services.db, services.settings.server.base_url)
    return [f"tool key: {kid}", f"development LMS: platform {dev.id} ({dev.issuer})"]
