"""The sequencing engine's words to a learner (a refused Continue, a refused navigation) in the learner's language.

The engine (``scorm.sequencing``) answers in English gettext message ids; the player page and
the navigation answers say them in the language of the launch (or of the browser).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.lti.context import Launch
from lti_tool.web import i18n
from lti_tool.web.i18n import LOCALE_CLAIM
from lti_tool.web.player import learner_page
from scorm.sequencing.messages import LEARNER_MESSAGES
from tests.web.test_translations import TRANSLATIONS

FORCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
LOCKED = LEARNER_MESSAGES["SB.2.2-2"]  # "The next section is locked until you complete the previous one."


def player_config(app: Flask, launch: Launch) -> dict[str, Any]:
    """The player page's config, rendered as ``/play`` renders it (in the launch's language)."""
    with app.test_request_context(f"/play/{launch.id}"):
        i18n.use_launch(launch.claims)
        html = learner_page(launch)
    config = html.split('id="cbsi-player-config">', 1)[1].split("</script>", 1)[0]
    return json.loads(config)


def _said(lang: str, sentence: str) -> str:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if isinstance(m.id, str)}[sentence]


@pytest.mark.parametrize(("lang", "locale"), [("es", "es-DO"), ("fr", "fr-HT"), ("nl", "nl-SR")])
def test_a_refused_navigation_reads_in_the_learners_language(
    app: Flask,
    client: FlaskClient,
    import_course: Callable,
    make_launch: Callable[..., Launch],
    lang: str,
    locale: str,
) -> None:
    course = import_course(FORCED)
    launch = make_launch(course.course_key, claims={LOCALE_CLAIM: {"document_target": "iframe", "locale": locale}})
    config = player_config(app, launch)
    assert config["nav"]["continue_refused"] == _said(lang, LOCKED) != LOCKED
    leaves = [i for i in config["items"] if i["kind"] == "sco"]
    refused = client.post(
        config["navUrl"],
        data=json.dumps({"request": "choice", "target": leaves[2]["id"]}),
        headers={"Authorization": f"Bearer {config['token']}", "Accept-Language": lang},
        content_type="application/json",
    )
    body: dict[str, Any] = refused.get_json()
    assert refused.status_code == 400 and body["error"] == "nav_refused"
    english = set(LEARNER_MESSAGES.values())
    assert body["message"] not in english
    assert body["message"] in {_said(lang, sentence) for sentence in english}
    assert body["nav"]["continue_refused"] == _said(lang, LOCKED)


def test_in_english_the_engines_words_are_unchanged(
    app: Flask, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    config = player_config(app, make_launch(import_course(FORCED).course_key))
    assert config["nav"]["continue_refused"] == LOCKED
