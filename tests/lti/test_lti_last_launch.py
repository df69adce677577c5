"""A real launch records the registration's last launch (``platforms list/show`` show it)."""

from __future__ import annotations

from lti_helpers import claims_for, login, post_launch

from lti_tool.lti import platforms


def test_accepted_launch_sets_last_launch_and_a_refused_one_does_not(app, client, peer, services):
    assert platforms.get_platform(services.db, peer.platform.id).last_launch_at is None

    state, nonce, _ = login(client)
    refused = post_launch(client, peer.sign(claims_for(nonce, aud="someone-else")), state)
    assert refused.status_code >= 400
    assert platforms.get_platform(services.db, peer.platform.id).last_launch_at is None

    state, nonce, _ = login(client)
    accepted = post_launch(client, peer.sign(claims_for(nonce)), state)
    assert accepted.status_code < 400, accepted.get_data(as_text=True)
    info = platforms.get_platform(services.db, peer.platform.id)
    assert info.last_launch_at is not None
    assert [p.last_launch_at for p in platforms.platforms_for_issuer(services.db, info.issuer)] == [info.last_launch_at]
