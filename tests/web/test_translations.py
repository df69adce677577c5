"""Translations: every catalogue complete, placeholders kept, learner pages and errors in four languages.

The English sentences (message ids) come from ``lti_tool/messages.py`` and the templates; each
language's ``.po`` must translate every one with the same ``%(name)s`` placeholders, and the
committed ``.mo`` must be the compiled ``.po``. Pages rendered in Spanish, French and Dutch must
show the translation and none of the English sentences.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template
from flask.testing import FlaskClient

from lti_tool import messages
from lti_tool.errors import AppError
from lti_tool.lti.context import Launch
from lti_tool.runtime.errors import AttemptLimitReached
from lti_tool.web import i18n
from lti_tool.web.player import learner_page

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "lti_tool" / "translations"
FOREIGN = ("es", "fr", "nl")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# words that are the same in a language (loan words, codes, units): not an English leak
SAME_WORDS = {
    "%(minutes)s min",
    "Status",
    "Score",
    "incident",
    "Deployments",
    "deployment",
    # the same word in Spanish, French or Dutch
    "no",
    "Action",
    "Actions",
    "Catalogue",
    "Version",
    "Version %(n)s",
    "version",
    "active",
    "client",
    "Academies",
    "Accounts:",
    "Dashboard",
    "Details",
    "Id",
    "Product",
    "element",
    "AU",  # cmi5's assignable unit, a term of the standard
}


def _catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation; a plural message by its singular id, its forms joined by " | "."""
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        found = [m for m in read_po(f) if m.id]
    return {
        m.id[0] if isinstance(m.id, tuple) else m.id: " | ".join(m.string) if isinstance(m.string, tuple) else m.string
        for m in found
    }


def _method_map() -> list[tuple[str, str]]:
    """The extraction map of ``babel.cfg`` (the one list of translated sources)."""
    sections = re.findall(r"^\[(\w+):\s*([^\]]+)\]", (REPO / "babel.cfg").read_text(), re.M)
    return [(pattern.strip(), method) for method, pattern in sections]


def _source_ids() -> set[str]:
    """Every message id in the sources, extracted as ``scripts/translations.sh update`` does."""
    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    found = extract_from_dir(str(REPO), _method_map(), keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _file, _line, message, _c, _x in found}


def test_every_catalogue_has_every_message_with_its_placeholders() -> None:
    ids = _source_ids()
    assert set(messages.ERRORS.values()) <= ids and set(messages.PLAYER.values()) <= ids
    for lang in ("en", *FOREIGN):
        catalogue = _catalogue(lang)
        missing = sorted(ids - set(catalogue))
        assert not missing, f"{lang}: not in the catalogue: {missing[:5]}"
        for msgid in ids:
            text = catalogue[msgid]
            for form in text.split(" | "):
                assert form.strip(), f"{lang}: untranslated: {msgid!r}"
                assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(msgid)), (lang, msgid, form)
            if lang != "en" and msgid not in SAME_WORDS:
                assert text != msgid, f"{lang}: left in English: {msgid!r}"
        stale = sorted(set(catalogue) - ids)
        assert not stale, f"{lang}: messages no source uses: {stale[:5]}"


@pytest.mark.parametrize("lang", ["en", *FOREIGN])
def test_the_committed_mo_is_the_compiled_po(lang: str) -> None:
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    assert (folder / "messages.mo").read_bytes() == compiled.getvalue(), "run scripts/translations.sh compile"


def test_every_application_error_code_has_a_sentence() -> None:
    import importlib
    import pkgutil

    import lti_tool

    for module in pkgutil.walk_packages(lti_tool.__path__, "lti_tool."):
        if not any(part in module.name for part in ("migrations", "cli", "__main__", "devplatform")):
            importlib.import_module(module.name)
    kinds: list[type[AppError]] = []
    todo: list[type[AppError]] = [AppError]
    while todo:
        kind = todo.pop()
        kinds.append(kind)
        todo.extend(kind.__subclasses__())
    for kind in kinds:
        key = kind.message_key or kind.code
        assert key in messages.ERRORS, f"{kind.__module__}.{kind.__name__}: no sentence for {key!r}"


# --- choosing the language ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("es-DO", "es_DO"),
        ("fr_HT", "fr_HT"),
        ("nl-SR", "nl_SR"),
        ("NL", "nl"),
        ("en-US", "en_US"),
        ("de-DE", None),
        ("", None),
        ("<script>", None),
        (42, None),
    ],
)
def test_a_locale_tag_is_normalised_or_refused(tag: Any, locale: str | None) -> None:
    assert i18n.normalise(tag) == locale


def _claims(locale: str) -> dict[str, Any]:
    return {i18n.LOCALE_CLAIM: {"locale": locale, "document_target": "iframe"}}


def test_the_launch_locale_wins_over_the_browser(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "fr-HT,fr;q=0.9"}):
        assert i18n.language() == "fr"
        i18n.use_launch(_claims("nl-SR"))
        assert i18n.language() == "nl"
        assert i18n.error_text(AttemptLimitReached()).startswith("U hebt alle pogingen")
    with app.test_request_context("/", headers={"Accept-Language": "de,ja;q=0.5"}):
        i18n.use_launch(_claims("de-DE"))  # no catalogue: the browser's choice, then English
        assert i18n.language() == "en"


# --- pages and errors in every language -----------------------------------------------------------


def _visible_text(html: str) -> str:
    html = re.sub(r"<script\b[^>]*>.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _english_leaks(text: str, lang: str) -> list[str]:
    """English sentences (of a translated language) that appear on a page rendered in ``lang``."""
    catalogue = _catalogue(lang)
    return [
        msgid
        for msgid, translated in catalogue.items()
        if translated != msgid and len(msgid) > 12 and "%(" not in msgid and msgid in text
    ]


def _expect(lang: str, msgid: str) -> str:
    return _catalogue(lang)[msgid] if lang != "en" else msgid


@pytest.mark.parametrize("lang", ["en", *FOREIGN])
def test_a_launch_error_page_in_each_language(client: FlaskClient, lang: str) -> None:
    response = client.post("/lti/launch", data={}, headers={"Accept-Language": lang})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'lang="{lang}"' in html
    text = _visible_text(html)
    sentence = messages.ERRORS["missing_launch_parameter"]
    assert _expect(lang, sentence) in text
    assert _expect(lang, "If this keeps happening, send the error code to your LMS administrator.") in text
    assert "missing_launch_parameter" in text  # the code stays the same in every language
    if lang != "en":
        assert not _english_leaks(text, lang)


@pytest.mark.parametrize("lang", ["en", *FOREIGN])
def test_a_json_error_keeps_its_code_and_speaks_the_language(client: FlaskClient, lang: str) -> None:
    response = client.post(
        "/runtime/nope/x/commit",
        json={"seq": 1, "changes": {}},
        headers={"Accept-Language": f"{lang};q=0.9", "Authorization": "Bearer forged"},
    )
    body = response.get_json()
    assert response.status_code == 401 and body["error"] == "runtime_token_refused"
    assert body["message"] == _expect(lang, messages.ERRORS["runtime_token_refused"])


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_not_found_page_in_each_language(client: FlaskClient, lang: str) -> None:
    response = client.get("/no-such-page", headers={"Accept-Language": lang, "Accept": "text/html"})
    text = _visible_text(response.get_data(as_text=True))
    assert response.status_code == 404
    assert _expect(lang, messages.ERRORS["not_found"]) in text
    assert not _english_leaks(text, lang)
    assert "The requested URL was not found" not in text  # werkzeug's English stays out


def _player_page(app: Flask, launch: Launch) -> str:
    with app.test_request_context(f"/play/{launch.id}"):
        i18n.use_launch(launch.claims)
        return learner_page(launch)


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_player_page_and_its_message_table_follow_the_launch_locale(
    app: Flask, make_launch: Callable[..., Launch], lang: str
) -> None:
    regional = {"es": "es-DO", "fr": "fr-HT", "nl": "nl-SR"}[lang]
    html = _player_page(app, make_launch(presentation={"document_target": "iframe", "locale": regional}))
    assert f'<html lang="{regional}">' in html
    table = json.loads(re.search(r'id="cbsi-player-messages">(.*?)</script>', html, re.S).group(1))
    assert set(table) == set(messages.PLAYER)
    for key, english in messages.PLAYER.items():
        assert table[key] == _expect(lang, english)
    text = _visible_text(html)
    for word in ("Exit", "Previous", "Next", "Skip to the course content"):
        assert _expect(lang, word) in text
    assert not _english_leaks(text, lang)


def test_the_player_page_without_a_locale_is_english(app: Flask, make_launch: Callable[..., Launch]) -> None:
    html = _player_page(app, make_launch())
    assert '<html lang="en">' in html and ">Exit</button>" in html


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_class_view_states_and_gradebook_words_in_each_language(app: Flask, lang: str) -> None:
    from datetime import UTC, datetime

    from lti_tool.reports import STATES, ClassReport, LearnerRow

    row = LearnerRow(
        user_id="u1",
        name="Ana",
        email=None,
        state="passed",
        score_percent=80.0,
        attempts=1,
        last_activity=datetime(2026, 3, 4, 10, 30, tzinfo=UTC),
        grade={"status": "delivered", "code": "delivered_on", "params": {"score": "8/10", "when": datetime.now(UTC)}},
    )
    report = ClassReport(rows=(row,), counts={s: int(s == "passed") for s in STATES}, average_score_percent=80.0)
    launch = Launch(
        id="l1",
        platform_id=1,
        issuer="https://lms.example",
        client_id="c",
        deployment_id="d",
        message_type="LtiResourceLinkRequest",
        sub="t1",
        resource_link_id="rl-1",
        claims=_claims(lang),
    )
    with app.test_request_context("/class/l1"):
        i18n.use_launch(launch.claims)
        html = render_template("lti/class.html", launch=launch, report=report, states=STATES, registration=None)
    text = _visible_text(html)
    for english in ("Not started", "In progress", "Completed", "Passed", "Failed", "Average score", "Gradebook"):
        assert _expect(lang, english) in text
    assert _expect(lang, "Sent %(score)s on %(when)s").split("%(score)s")[0].strip() in text
    assert not _english_leaks(text, lang)


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_cookie_fallback_page_in_each_language(app: Flask, lang: str) -> None:
    with app.test_request_context("/lti/launch", headers={"Accept-Language": lang}):
        html = render_template("lti/cookie_fallback.html", storage_target=None, relaunch_url="https://x.example/")
    text = _visible_text(html)
    assert _expect(lang, "One more step to open this activity") in text
    assert not _english_leaks(text, lang)


def test_the_cli_renders_english_from_the_same_catalogue() -> None:
    assert AttemptLimitReached().message == messages.ERRORS["attempt_limit_reached"]
    assert messages.english(messages.DELIVERY, "pending", {"score": "8/10"}) == "Waiting to send 8/10"


@pytest.mark.parametrize("lang", ["en", *FOREIGN])
def test_a_launch_error_with_a_parameter_fills_it_in_each_language(client: FlaskClient, lang: str) -> None:
    response = client.post("/lti/login", data={"login_hint": "u1"}, headers={"Accept-Language": lang})
    text = _visible_text(response.get_data(as_text=True))
    assert response.status_code == 400 and "missing_login_parameter" in text
    sentence = _expect(lang, messages.ERRORS["missing_login_parameter_named"]) % {"name": "iss"}
    assert sentence.replace("'", "&#39;") in text or sentence in text
    if lang != "en":
        assert not _english_leaks(text, lang)


@pytest.mark.parametrize("lang", FOREIGN)
def test_the_course_picker_in_each_language(app: Flask, lang: str) -> None:
    from types import SimpleNamespace

    entry = SimpleNamespace(
        course_id="c1",
        version=1,
        title="<b>Customs 101</b>",
        package_title=None,
        description=None,
        standard="SCORM 1.2",
        language="es",
        sco_count=1,
    )
    ctx = SimpleNamespace(title="<i>Suggested</i>", accept_multiple=True)
    with app.test_request_context("/lti/deep-linking", headers={"Accept-Language": lang}):
        html = render_template(
            "lti_adv/picker.html",
            ctx=ctx,
            token="t",
            query="",
            standard="",
            language="",
            standards=["SCORM 1.2"],
            languages=["es"],
            entries=[entry, entry],
            error=None,
        )
    assert "<b>Customs" not in html and "<i>Suggested" not in html  # titles stay escaped
    text = _visible_text(html)
    assert _expect(lang, "Add a course from the catalogue") in text
    assert _catalogue(lang)["%(num)s course"].split(" | ")[-1].replace("%(num)s", "2") in text
    assert not _english_leaks(text, lang)
