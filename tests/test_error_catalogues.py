"""Every error raised in ``scorm`` and ``sync`` names a catalogue sentence, with matching placeholders.

A raise site gives a ``key`` (its sentence in ``scorm.messages`` / ``sync.messages``) and
``params``, never English words: this test reads every raise site of the two packages and fails
for a message written at the raise site, an unknown key, or params that do not fill the
sentence's ``%(name)s`` placeholders. The SCORM run-time's error strings for content
(``scorm/cmi``: GetErrorString/GetDiagnostic, spec data) and the xAPI statement checks
(``scorm/xapi``) are not sentences for a person of this catalogue and are not scanned.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import scorm.messages
import sync.messages
from scorm.packaging.errors import ALL_ERROR_TYPES as PACKAGE_ERRORS
from scorm.packaging.errors import PackageError
from scorm.sequencing.errors import ALL_ERROR_TYPES as SEQUENCING_ERRORS
from scorm.sequencing.errors import SequencingError
from sync import errors as sync_errors
from sync.ags import ServiceUrlRefusedError

REPO = Path(__file__).resolve().parents[1]
SCANNED = {
    "scorm/packaging": scorm.messages.MESSAGES,
    "scorm/sequencing": scorm.messages.MESSAGES,
    "scorm/outcome.py": scorm.messages.MESSAGES,
    "sync": sync.messages.MESSAGES,
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SYNC_ERRORS = (
    *(c for c in vars(sync_errors).values() if isinstance(c, type) and issubclass(c, sync_errors.SyncError)),
    ServiceUrlRefusedError,
)
ALL_ERRORS = (*PACKAGE_ERRORS, PackageError, *SEQUENCING_ERRORS, SequencingError, *SYNC_ERRORS)
ERROR_NAMES = {cls.__name__ for cls in ALL_ERRORS}
PASSED_THROUGH = {("sync/ags.py", "_authorized_now"), ("sync/tokens.py", "_replayed")}
"""Functions that pass words on instead of choosing them: the URL guard's refusal (words of the
``lti_tool`` guard that ``sync`` is given) and a remembered token refusal raised again (its key
and params, or the words it was made with)."""


def _sources() -> Iterator[tuple[str, ast.Module, Mapping[str, str]]]:
    for where, catalogue in SCANNED.items():
        path = REPO / where
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            if file.name != "messages.py":
                yield str(file.relative_to(REPO)), ast.parse(file.read_text()), catalogue


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _keys_of(node: ast.expr, function: ast.AST) -> list[str | None]:
    """The sentence keys an expression can take (a literal, either branch of an ``if``, or a
    local variable's literal assignments); ``None`` for anything else. A helper's own ``key``
    parameter gives nothing: its callers are the raise sites checked."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return [*_keys_of(node.body, function), *_keys_of(node.orelse, function)]
    if isinstance(node, ast.Name):
        found = [
            n.value.value
            for n in ast.walk(function)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
        ]
        if not found and isinstance(function, ast.FunctionDef):
            arguments = function.args
            if node.id in {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}:
                return []
        return found or [None]
    return [None]


def _param_names(node: ast.expr | None) -> list[set[str] | None]:
    """The param names a ``params=`` expression gives (per ``if`` branch); ``None`` when unknown."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return [set()]
    if isinstance(node, ast.IfExp):
        return [*_param_names(node.body), *_param_names(node.orelse)]
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys if k is not None):
        if any(k is None for k in node.keys):
            return [None]  # ``**more``: only the literal names can be checked
        return [{k.value for k in node.keys}]  # type: ignore[union-attr]
    return [None]


def _sites() -> Iterator[tuple[str, int, list[str | None], list[set[str] | None], Mapping[str, str]]]:
    """(file, line, keys, param-name sets, catalogue) of every raise site."""
    for site in _all_sites():
        if site[2]:  # a forwarding helper (its key is a parameter) is checked at its callers
            yield site


def _all_sites() -> Iterator[tuple[str, int, list[str | None], list[set[str] | None], Mapping[str, str]]]:
    for file, tree, catalogue in _sources():
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function in functions:
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                name = _name(call)
                kw = {k.arg: k.value for k in call.keywords}
                if name in ERROR_NAMES:
                    if (file, function.name) in PASSED_THROUGH:
                        continue
                    if call.args:
                        yield file, call.lineno, [None], [None], catalogue  # words written at the raise site
                        continue
                    if "key" not in kw:
                        continue  # the class's own sentence (checked below by code)
                    yield file, call.lineno, _keys_of(kw["key"], function), _param_names(kw.get("params")), catalogue
                elif name == "fail" and len(call.args) == 3:  # ValueReader.fail / the CAM parser's fail
                    keys = _keys_of(call.args[1], function)
                    yield file, call.lineno, keys, _param_names(kw.get("params")), catalogue
                elif name == "warn" and len(call.args) == 2:  # Findings.warn(code, key, ...)
                    keys = _keys_of(call.args[1], function)
                    yield file, call.lineno, keys, _param_names(kw.get("params")), catalogue
                elif name == "fail" and file.endswith("prereq12.py") and len(call.args) == 1:
                    names = {k.arg for k in call.keywords if k.arg} | {"text"}
                    yield file, call.lineno, _keys_of(call.args[0], function), [names], catalogue


def test_the_scan_finds_the_raise_sites() -> None:
    sites = list(_sites())
    assert len(sites) > 150
    assert {file.split("/")[0] for file, *_ in sites} == {"scorm", "sync"}


@pytest.mark.parametrize("site", list(_sites()), ids=lambda s: f"{s[0]}:{s[1]}")
def test_every_raise_site_names_a_catalogue_sentence_with_its_placeholders(
    site: tuple[str, int, list[str | None], list[set[str] | None], Mapping[str, str]],
) -> None:
    file, line, keys, param_sets, catalogue = site
    assert None not in keys, f"{file}:{line}: the words are written at the raise site; give key= and params="
    for key in keys:
        assert key in catalogue, f"{file}:{line}: no catalogue sentence {key!r}"
    if len(keys) == len(param_sets) > 1:  # key and params chosen by the same condition
        pairs = list(zip(keys, param_sets, strict=True))
    else:
        pairs = [(key, names) for key in keys for names in param_sets]
    for key, names in pairs:
        if names is None:
            continue  # params merged from elsewhere (``**more``): the rendering tests cover them
        wanted = set(PLACEHOLDER.findall(catalogue[key or ""]))
        assert names == wanted, f"{file}:{line}: {key}: params {sorted(names)}, the sentence wants {sorted(wanted)}"


@pytest.mark.parametrize("cls", [*PACKAGE_ERRORS, PackageError, *SEQUENCING_ERRORS, SequencingError])
def test_every_scorm_error_code_has_its_own_sentence(cls: type[Exception]) -> None:
    assert cls.code in scorm.messages.MESSAGES  # type: ignore[attr-defined]
    assert "%(" not in scorm.messages.MESSAGES[cls.code]  # type: ignore[attr-defined]
    assert cls().message == scorm.messages.MESSAGES[cls.code]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", SYNC_ERRORS)
def test_every_sync_error_code_has_its_own_sentence(cls: type[sync_errors.SyncError]) -> None:
    assert cls.code in sync.messages.MESSAGES
    if cls.__init__ is sync_errors.SyncError.__init__:  # the others need their transport details
        assert cls().message == sync.messages.MESSAGES[cls.code]


@pytest.mark.parametrize("catalogue", [scorm.messages.MESSAGES, sync.messages.MESSAGES])
def test_every_sentence_renders_with_its_own_placeholders(catalogue: Mapping[str, str]) -> None:
    for key, sentence in catalogue.items():
        params = {name: f"<{name}>" for name in PLACEHOLDER.findall(sentence)}
        rendered = sentence % params if params else sentence
        assert all(f"<{name}>" in rendered for name in params), key
        assert "%(" not in rendered, key


def test_the_packages_stay_free_of_lti_tool_and_flask() -> None:
    for file in [*(REPO / "scorm").rglob("*.py"), *(REPO / "sync").rglob("*.py")]:
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("lti_tool", "flask", "flask_babel")), f"{file}: imports {name}"
