"""Translations: the reader's language, and the words of errors, states and the player in it.

The language of a request, first match wins:

1. the LTI launch's ``launch_presentation.locale`` claim, for every request that carries the
   launch (``use_launch``: the launch is stored server side, its token rides on each page);
2. the browser's ``Accept-Language``;
3. English.

A tag's region is kept for numbers and dates (``es-DO`` for the Dominican Republic's academy,
``fr-HT`` for Haiti's, ``nl-SR`` for Suriname's); the words come from the language's catalogue
(``lti_tool/translations/<lang>/LC_MESSAGES/messages.po``, compiled to ``.mo`` beside it).

Errors are rendered here, never at raise time: :func:`error_text` looks the error's code up in
:mod:`lti_tool.messages` and translates the sentence with the error's ``params``; package
refusals and warnings (:func:`package_text`, :func:`package_report`) by the ``key`` and
``params`` they carry, and the learner's navigation answers by their sentence
(:func:`learner_text`, :func:`learner_nav`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, format_datetime, get_locale, gettext, refresh

from lti_tool import messages
from lti_tool.errors import AppError
from scorm.packaging import PackageError

LANGUAGES = ("en", "es", "fr", "nl")
"""The languages with a catalogue; English is the message ids themselves."""
DEFAULT = "en"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LOCALE_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?(?:[-_].*)?$")


def normalise(tag: object) -> str | None:
    """``es-DO`` -> ``es_DO``; ``fr`` -> ``fr``; a language without a catalogue or junk -> None."""
    if not isinstance(tag, str):
        return None
    match = _TAG.match(tag.strip()[:35])
    if not match or match.group(1).lower() not in LANGUAGES:
        return None
    language, region = match.group(1).lower(), match.group(2)
    if region:
        try:
            return str(Locale(language, region.upper()))
        except (UnknownLocaleError, ValueError):
            return language
    return language


def launch_locale(claims: Mapping[str, Any]) -> str | None:
    """The supported locale a launch asks for (``launch_presentation.locale``), if any."""
    presentation = claims.get(LOCALE_CLAIM)
    return normalise(presentation.get("locale")) if isinstance(presentation, Mapping) else None


def use_launch(claims: Mapping[str, Any]) -> None:
    """Answer this request in the launch's language (when the launch names a supported one)."""
    locale = launch_locale(claims)
    if locale and has_request_context():
        g.cbsi_locale = locale
        refresh()  # Flask-Babel caches the request's locale on first use


#: The reader's own choice (the language links at the foot of every page): ``?lang=`` on any page,
#: remembered in this cookie for the pages that follow.
SWITCH_PARAM = "lang"
SWITCH_COOKIE = "cbsi_lang"
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "nl": "Nederlands"}


def switched() -> str | None:
    """The language the reader chose with the switcher (this request's ``?lang=``, else the cookie)."""
    return normalise(request.args.get(SWITCH_PARAM)) or normalise(request.cookies.get(SWITCH_COOKIE))


def select_locale() -> str:
    """Flask-Babel's locale selector: the reader's choice, the launch's, the browser's, English."""
    chosen = switched() or g.get("cbsi_locale")
    if chosen:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES)
    if best:
        # keep the region of the browser's first matching tag for numbers and dates
        for tag, _quality in request.accept_languages:
            locale = normalise(tag)
            if locale and locale.split("_")[0] == best:
                return locale
        return best
    return DEFAULT


def language() -> str:
    """The current request's language (``en`` outside a request)."""
    if not has_request_context():
        return DEFAULT
    locale = get_locale()
    return locale.language if locale else DEFAULT


def localised(key: str, detail: str | None, params: Mapping[str, object] | None = None) -> str:
    """The catalogue sentence of error ``key`` in the reader's language.

    ``detail``: English words a raise site still passes; English readers get them (they are more
    precise than the code's sentence), other readers the code's translated sentence.
    """
    if detail and language() == DEFAULT:
        return detail
    sentence = messages.ERRORS.get(key, messages.ERRORS[AppError.code])
    return gettext(sentence, **dict(params or {}))


def error_text(exc: AppError) -> str:
    """The words of an application error, in the reader's language."""
    return localised(exc.catalogue_key(), exc.detail, exc.params)


def _catalogued(table: Mapping[str, str], key: object, params: Mapping[str, Any] | None, fallback: str) -> str:
    """Sentence ``key`` of ``table`` in the reader's language; ``fallback`` when it has none."""
    if not isinstance(key, str) or key not in table:
        return fallback
    values = {
        name: gettext(value) if isinstance(value, str) and value in messages.PACKAGE_TERMS else value
        for name, value in (params or {}).items()
    }
    return gettext(table[key], **values)


def package_text(found: Any) -> str:
    """A package refusal or warning (``PackageError``, ``PackageWarning`` or its stored dict) in the reader's words.

    Refusals and warnings carry ``key`` and ``params``; a stored warning from before they did
    (no ``key``) keeps its English ``message``.
    """
    if isinstance(found, Mapping):
        return _catalogued(messages.PACKAGE, found.get("key"), found.get("params"), str(found.get("message") or ""))
    return _catalogued(messages.PACKAGE, found.key, found.params, found.message)


def package_report(refusal: PackageError) -> dict[str, Any]:
    """``refusal.as_dict()`` with every message (first refusal, problems, warnings) in the reader's language."""
    report = refusal.as_dict()
    report["message"] = package_text(refusal)
    report["problems"] = [{**p.describe(), "message": package_text(p)} for p in refusal.problems]
    report["warnings"] = [{**w.as_dict(), "message": package_text(w)} for w in refusal.warnings]
    return report


def package_warnings(warnings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored import warnings (dicts) with their messages in the reader's language."""
    return [{**w, "message": package_text(w)} for w in warnings]


def learner_text(sentence: str | None) -> str | None:
    """A navigation answer's words (a sentence of :data:`messages.LEARNER_NAVIGATION`) in the reader's language."""
    if sentence is None or sentence not in messages.LEARNER_NAVIGATION:
        return sentence
    return gettext(sentence)


def learner_nav(nav: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The player's button state with its refusal reason (``continue_refused``) in the learner's language."""
    if not nav or not nav.get("continue_refused"):
        return nav
    return {**nav, "continue_refused": learner_text(nav["continue_refused"])}


def delivery_text(grade: Mapping[str, Any]) -> str:
    """What reached the gradebook (one ``grades.delivery_state`` entry), in the reader's language."""
    code = grade.get("code")
    if code not in messages.DELIVERY:
        return ""
    params = dict(grade.get("params") or {})
    if "score" in params and not params["score"]:
        params["score"] = gettext(messages.DELIVERY["progress_only"])
    when = params.get("when")
    if isinstance(when, datetime):
        params["when"] = format_datetime(when, "short")
    return gettext(messages.DELIVERY[code], **params)


#: Query parameters the switcher's links may repeat: page filters, never tokens or secrets
#: (``lt``, ``registration_token`` …). In the browser a click keeps the page's whole address
#: (the script in ``base.html``); the server never writes a secret of the URL into the page.
LINK_ARGS = frozenset({"q", "year", "platform", "action", "days", "before", "next", "saved"})


def language_links() -> list[dict[str, Any]]:
    """The switcher's links: this page in each language (with its harmless filters only)."""
    current = language()
    args = {k: v for k, v in request.args.items() if k in LINK_ARGS}
    links = []
    for code in LANGUAGES:
        query = urlencode({**args, SWITCH_PARAM: code})
        links.append(
            {"code": code, "name": LANGUAGE_NAMES[code], "href": f"{request.path}?{query}", "current": code == current}
        )
    return links


def player_messages() -> dict[str, str]:
    """The player's words in the reader's language (the page embeds them for player.js)."""
    return _player_messages(language())


@functools.lru_cache(maxsize=len(LANGUAGES))
def _player_messages(code: str) -> dict[str, str]:
    # One dict per language (the catalogues are compiled into the package and never change while
    # the process runs); the caller only reads it into the page.
    return {key: gettext(sentence) for key, sentence in messages.PLAYER.items()}


def init_app(app: Flask) -> None:
    """Flask-Babel over ``lti_tool/translations``, the locale selector, and template helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _i18n_context() -> dict[str, Any]:
        return {
            "page_lang": str(get_locale() or DEFAULT).replace("_", "-"),
            "player_messages": player_messages,
            "language_links": language_links,
        }

    @app.after_request
    def _remember_switch(response: Response) -> Response:
        chosen = normalise(request.args.get(SWITCH_PARAM))
        if chosen:
            response.set_cookie(
                SWITCH_COOKIE,
                chosen,
                max_age=365 * 24 * 3600,
                secure=request.is_secure,
                httponly=True,
                samesite="None" if request.is_secure else "Lax",  # None: inside an LMS iframe too
            )
        return response

    app.jinja_env.filters["delivery_text"] = delivery_text
