"""The learner home: a launch without a course, the learner's activities in this LMS course, resume links."""

from __future__ import annotations

import json
import re
from pathlib import Path

import factories
import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_class_view import HOSTILE, learner_finishes, token_for

from lti_tool.runtime import service
from lti_tool.services import Services
from lti_tool.web.lti import resource_link_handler
from lti_tool.web.player import learner_page


@pytest.fixture
def course_key(services: Services, fixtures_dir: Path) -> str:
    return factories.import_course(services, fixtures_dir / factories.GOLF12).course_key


def test_a_learner_launch_without_a_course_goes_to_the_home(app: Flask, platform_id: int) -> None:
    launch = factories.launch("", platform_id=platform_id, custom={})
    with app.test_request_context("/lti/launch"):
        assert resource_link_handler(launch).location.startswith(f"/home/{launch.id}?lt=")
        with_course = factories.launch("golf", platform_id=platform_id)
        assert resource_link_handler(with_course).location.startswith(f"/play/{with_course.id}?lt=")


def test_home_lists_this_context_only_with_progress_and_resume(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="90", link="rl-done",
                     resource_link_title="Finished module")  # fmt: skip
    running = factories.launch(course_key, platform_id=platform_id, sub="s1", link="rl-run", launch_id="run",
                               resource_link_title="Running module")  # fmt: skip
    opened = service.open_attempt(services, running)
    # another LMS course, and another learner: neither is listed
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="50", link="rl-x",
                     context_id="course-8", resource_link_title="Other course module")  # fmt: skip
    learner_finishes(services, course_key, platform_id, sub="s2", name="Ben", score="50", link="rl-y",
                     resource_link_title="Ben's module")  # fmt: skip
    home = factories.launch("", platform_id=platform_id, sub="s1", custom={}, launch_id="home-1", link="rl-menu")
    response = client.get(f"/home/{home.id}?lt={token_for(services, home)}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Finished module" in html and "Running module" in html
    assert "Other course module" not in html and "Ben&#39;s module" not in html and "Ben's module" not in html
    assert html.index("Running module") < html.index("Finished module")  # unfinished first
    assert f'href="/player/{opened.attempt_id}#t=' in html  # the running attempt resumes in the player
    assert html.count('class="button resume"') == 1  # the finished one opens from the LMS
    assert "open this activity from your LMS course" in html
    assert "90%" in html


def test_the_resume_link_opens_the_running_attempt(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    running = factories.launch(course_key, platform_id=platform_id, sub="s.1", launch_id="run")
    opened = service.open_attempt(services, running)
    home = factories.launch("", platform_id=platform_id, sub="s.1", custom={}, launch_id="home-1", link="rl-menu")
    html = client.get(f"/home/{home.id}?lt={token_for(services, home)}").get_data(as_text=True)
    token = re.search(rf'href="/player/{opened.attempt_id}#t=([^"]+)"', html).group(1)  # type: ignore[union-attr]
    page = client.post(f"/player/{opened.attempt_id}", data={"token": token})
    assert page.status_code == 200
    assert opened.attempt_id in page.get_data(as_text=True)


def test_home_needs_the_launch_token(client: FlaskClient) -> None:
    assert client.get("/home/home-1").status_code == 401


def test_home_escapes_titles(client: FlaskClient, services: Services, platform_id: int, course_key: str) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name=HOSTILE, score="90",
                     resource_link_title=HOSTILE)  # fmt: skip
    home = factories.launch("", platform_id=platform_id, sub="s1", custom={}, launch_id="home-1",
                            context_title=HOSTILE)  # fmt: skip
    html = client.get(f"/home/{home.id}?lt={token_for(services, home)}").get_data(as_text=True)
    assert HOSTILE not in html and "&lt;script&gt;" in html


def test_the_player_exit_page_links_to_the_home(
    app: Flask, services: Services, platform_id: int, course_key: str
) -> None:
    launch = factories.launch(course_key, platform_id=platform_id, launch_id="play-1")
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    config = json.loads(re.search(r'id="cbsi-player-config">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert config["homeUrl"].startswith("/home/play-1?lt=")


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "courseware bridge"), ("es", "pasarela de contenidos"), ("fr", "passerelle de contenus"),
     ("nl", "brug voor cursusmateriaal")],
)  # fmt: skip
def test_front_page_says_what_it_is_and_links_console_and_config(client: FlaskClient, lang: str, words: str) -> None:
    html = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert words in html
    assert 'href="/admin/"' in html and 'href="/lti/config"' in html
    assert f'<html lang="{lang}">' in html
