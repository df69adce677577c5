"""Errors raised while importing a course package.

Every refusal is a :class:`PackageError` subclass with a stable ``code`` (short snake_case, safe
to store in a database or show in a CLI), the ``file`` inside the package it concerns, an
xpath-ish ``element`` locator, the ``rule`` that was broken (spec section or limit name) and a
message written for an academy content team: what is wrong and what to do about it.

The words live in :mod:`scorm.messages`: a raise site names its sentence by ``key`` and fills
it with ``params``; ``message`` is the English rendering (CLI, logs), the web layer renders the
same key and params in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from scorm.messages import Params, english, plain_params

# Messages are written as sentences; these first words get a capital letter (a leading file
# or element name, such as "imsmanifest.xml", keeps its exact spelling).
_SENTENCE_STARTS = frozenset({"the", "a", "an", "every", "two", "writing", "cannot"})


def _located(found: PackageError | PackageWarning) -> str:
    """``[code] message (file F, at E)``: one line for a refusal or a warning."""
    where = [f"file {found.file}"] if found.file else []
    if found.element:
        where.append(f"at {found.element}")
    suffix = f" ({', '.join(where)})" if where else ""
    return f"[{found.code}] {found.message}{suffix}"


def _described(found: PackageError | PackageWarning) -> dict[str, str | None]:
    """A refusal or a warning as a JSON-ready dict (code, message, file, element, rule)."""
    return {
        "code": found.code,
        "message": found.message,
        "file": found.file,
        "element": found.element,
        "rule": found.rule,
    }


class PackageError(Exception):
    """A course package was refused."""

    code: ClassVar[str] = "package_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str | None = None,
        file: str | None = None,
        element: str | None = None,
        rule: str | None = None,
        params: Params | None = None,
    ) -> None:
        #: values the catalogue fills into the sentence ``key`` (:mod:`scorm.messages`)
        self.params: Mapping[str, str | int] = MappingProxyType(plain_params(params))
        #: the catalogue sentence of this refusal (``None``: only the literal ``message`` given)
        self.key: str | None = key or (None if message else self.code)
        text = message or english(self.key or self.code, self.params)
        first, _, rest = text.partition(" ")
        if first in _SENTENCE_STARTS:
            text = f"{first.capitalize()} {rest}"
        self.message = text
        self.file = file
        self.element = element
        self.rule = rule
        self.problems: tuple[PackageError, ...] = (self,)
        """Every refusal found in the package, this one first (see :class:`Findings`)."""
        self.warnings: tuple[PackageWarning, ...] = ()
        """Tolerated defects found before the package was refused."""
        self.problems_omitted = 0
        """Further refusals found but not listed (see :data:`MAX_LISTED`)."""
        super().__init__(self.message)

    def __str__(self) -> str:
        return _located(self)

    def describe(self) -> dict[str, str | None]:
        """This one refusal as a JSON-ready dict (code, message, file, element, rule)."""
        return _described(self)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready description (for the CLI, admin pages and import logs).

        The first refusal's fields at the top level, then ``problems`` (every refusal found in
        the package, the first one included) and ``warnings`` (tolerated defects).
        """
        return {
            **self.describe(),
            "problems": [problem.describe() for problem in self.problems],
            "problems_omitted": self.problems_omitted,
            "warnings": [warning.as_dict() for warning in self.warnings],
        }


@dataclass(frozen=True, kw_only=True)
class PackageWarning:
    """A defect the importer tolerated: the package imports, the import report names it.

    Attributes:
        code: stable snake_case code (see :data:`WARNING_CODES`).
        message: what was found, what the platform did instead, and what to fix.
        file: file inside the package it concerns.
        element: xpath-ish locator.
        rule: the spec rule that was bent.
        key: its sentence in :mod:`scorm.messages` (``message`` is the English rendering).
        params: the values filled into that sentence.
    """

    code: str
    message: str
    file: str | None = None
    element: str | None = None
    rule: str | None = None
    key: str | None = field(default=None, compare=False)
    params: Mapping[str, str | int] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return _located(self)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready description (same keys as a refusal, plus ``key`` and ``params`` to render it again)."""
        return {**_described(self), "key": self.key, "params": dict(self.params)}


WARNING_CODES: Mapping[str, str] = {
    "parent_item_resource_ignored": "an item with child items also references a resource; "
    "the reference is ignored (only leaf items launch)",
    "metadata_file_missing": "an adlcp:location metadata file is not in the package; "
    "the metadata is ignored",
    "default_organization_missing": "organizations@default names no organization; "
    "the first organization is used",
    "external_launch_url": "a resource launches an http(s) URL outside the package "
    "(never fetched by the importer; learners' browsers load it)",
    "external_file_url": "a resource lists an http(s) file outside the package (never fetched)",
    "schema_location_remote": "xsi:schemaLocation names a schema outside the package "
    "(never fetched: manifests are not validated against remote schemas)",
    "more_warnings": "more warnings were found than the report lists",
}

MAX_LISTED = 50
"""Refusals and warnings listed per package; the rest are counted (a hostile package could
otherwise make the report, and the work of building it, as large as its entry count)."""
"""Every warning code with its meaning (the import report's vocabulary)."""


class Findings:
    """Collects every refusal and warning of one package in a single pass.

    Parsers call :meth:`refuse` (or run a step under :meth:`collecting`) instead of stopping
    at the first problem, and :meth:`warn` for tolerated defects; the importer calls
    :meth:`raise_if_refused` once every check has run, so an academy sees every problem of a
    package at once instead of one per attempt.
    """

    def __init__(self) -> None:
        self.problems: list[PackageError] = []
        self.warnings: list[PackageWarning] = []
        self.problems_omitted = 0
        self.warnings_omitted = 0
        self._seen_problems: set[int] = set()
        self._seen_warnings: set[PackageWarning] = set()

    def refuse(self, error: PackageError) -> None:
        """Record a refusal (and any refusals and warnings it already carries)."""
        # Listed problems stay alive in self.problems, so their id() identifies them; an error
        # seen again (an aggregate re-raised through fatal()) adds nothing.
        known = id(error) in self._seen_problems
        for problem in error.problems:
            if id(problem) in self._seen_problems:
                continue
            if len(self.problems) < MAX_LISTED:
                self.problems.append(problem)
                self._seen_problems.add(id(problem))
            else:
                self.problems_omitted += 1
        if not known:
            self.problems_omitted += error.problems_omitted
        for warning in error.warnings:
            self._add_warning(warning)

    def _add_warning(self, warning: PackageWarning) -> None:
        if warning.code == "more_warnings" or warning in self._seen_warnings:
            return
        self._seen_warnings.add(warning)
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(warning)
        else:
            self.warnings_omitted += 1

    def report_warnings(self) -> tuple[PackageWarning, ...]:
        """The warnings to report: the listed ones, then a count of the others, if any."""
        if not self.warnings_omitted:
            return tuple(self.warnings)
        params = {"count": f"{self.warnings_omitted:,}"}
        more = PackageWarning(
            code="more_warnings",
            message=english("more_warnings_listed", params),
            key="more_warnings_listed",
            params=params,
        )
        return (*self.warnings, more)

    def warn(
        self,
        code: str,
        key: str,
        *,
        file: str | None = None,
        element: str | None = None,
        rule: str | None = None,
        params: Params | None = None,
    ) -> None:
        """Record a tolerated defect (``code`` must be one of :data:`WARNING_CODES`; ``key`` names its sentence)."""
        if code not in WARNING_CODES:
            raise ValueError(f"unknown package warning code {code!r}")
        values = plain_params(params)
        message = english(key, values)
        self._add_warning(
            PackageWarning(code=code, message=message, file=file, element=element, rule=rule, key=key, params=values)
        )

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Run a step; a :class:`PackageError` it raises is recorded instead of propagated."""
        try:
            yield
        except PackageError as exc:
            self.refuse(exc)

    def fatal(self, error: PackageError) -> PackageError:
        """Record ``error`` and return the aggregate to raise (nothing more can be checked)."""
        self.refuse(error)
        return self.aggregate()

    def aggregate(self) -> PackageError:
        """The first refusal, carrying every refusal and warning found."""
        first = self.problems[0]
        first.problems = tuple(self.problems)
        first.problems_omitted = self.problems_omitted
        first.warnings = self.report_warnings()
        return first

    def raise_if_refused(self) -> None:
        """Raise the aggregate refusal when anything was refused."""
        if self.problems:
            raise self.aggregate()


# --- the archive itself -------------------------------------------------------------------------


class NotAZip(PackageError):
    """The file is not a zip archive. Export the course again as a SCORM/xAPI/cmi5 zip package."""

    code = "not_a_zip"


class EmptyZip(PackageError):
    """The zip archive contains no files."""

    code = "empty_zip"


class SourceMissing(PackageError):
    """The package file to import does not exist or cannot be read."""

    code = "source_missing"


class ZipSlip(PackageError):
    """A file in the package has a path that would land outside the course folder."""

    code = "zip_slip"


class SymlinkEntry(PackageError):
    """The package contains a symbolic link; links are not allowed in course packages."""

    code = "symlink_entry"


class SpecialFileEntry(PackageError):
    """The package contains a device, FIFO or socket entry; only plain files are allowed."""

    code = "special_file_entry"


class DuplicateEntry(PackageError):
    """Two files in the package have the same name (ignoring upper/lower case)."""

    code = "duplicate_entry"


class EncryptedEntry(PackageError):
    """The package contains password-protected files; export it without a password."""

    code = "encrypted_entry"


class UnsupportedCompression(PackageError):
    """A file in the package uses a compression method this importer does not read."""

    code = "unsupported_compression"


class CorruptEntry(PackageError):
    """A file in the package is damaged (checksum or length mismatch); export it again."""

    code = "corrupt_entry"


class ZipBomb(PackageError):
    """The package expands far beyond its own size (a "zip bomb") and was refused."""

    code = "zip_bomb"


class PackageTooLarge(PackageError):
    """The package is larger, once unpacked, than the import size limit."""

    code = "package_too_large"


class TooManyEntries(PackageError):
    """The package contains more files than the import limit allows."""

    code = "too_many_entries"


class ManifestMissing(PackageError):
    """No imsmanifest.xml, cmi5.xml or tincan.xml was found at the top level of the package."""

    code = "manifest_missing"


class ManifestTooLarge(PackageError):
    """The package's manifest file is larger than the manifest size limit."""

    code = "manifest_too_large"


class MissingFile(PackageError):
    """The manifest refers to a file that is not in the package."""

    code = "missing_file"


class UnsafeUrl(PackageError):
    """The manifest points to a javascript:, data: or other non-web URL; only package files or http(s) URLs launch."""

    code = "unsafe_url"


class UnsupportedStandard(PackageError):
    """The package follows a standard this platform does not play (such as AICC)."""

    code = "unsupported_standard"


class DestinationError(PackageError):
    """The content folder could not be written."""

    code = "destination_error"


# --- XML ----------------------------------------------------------------------------------------


class XmlForbiddenDtd(PackageError):
    """The manifest contains a DOCTYPE declaration (DTDs and entities are refused for safety)."""

    code = "xml_forbidden_dtd"


class XmlXInclude(PackageError):
    """The manifest uses XInclude; manifests must be self-contained (nothing is ever included or fetched)."""

    code = "xml_xinclude"


class XmlMalformed(PackageError):
    """The manifest is not well-formed XML."""

    code = "xml_malformed"


class InvalidManifest(PackageError):
    """The manifest is well-formed XML but does not follow the packaging specification."""

    code = "invalid_manifest"


class UnknownStandard(PackageError):
    """The manifest's format or version could not be recognised."""

    code = "unknown_standard"


# --- cmi5 course structure (cmi5 spec section 13/14) -------------------------------------------


class Cmi5InvalidId(PackageError):
    """A cmi5 id is not an absolute IRI (it needs a scheme such as https:)."""

    code = "cmi5_invalid_id"


class Cmi5DuplicateId(PackageError):
    """Two cmi5 course elements share the same id."""

    code = "cmi5_duplicate_id"


class Cmi5UrlParamConflict(PackageError):
    """An AU url already carries a query parameter the LMS must add at launch."""

    code = "cmi5_url_param_conflict"


class Cmi5RelativeUrl(PackageError):
    """An AU url is relative but the course structure was imported without a zip package."""

    code = "cmi5_relative_url"


class Cmi5InvalidValue(PackageError):
    """A cmi5 attribute has a value outside what the specification allows."""

    code = "cmi5_invalid_value"


class Cmi5InvalidReference(PackageError):
    """A cmi5 objective reference names an objective that the course does not define."""

    code = "cmi5_invalid_reference"


ALL_ERROR_TYPES: tuple[type[PackageError], ...] = (
    NotAZip,
    EmptyZip,
    SourceMissing,
    ZipSlip,
    SymlinkEntry,
    SpecialFileEntry,
    DuplicateEntry,
    EncryptedEntry,
    UnsupportedCompression,
    CorruptEntry,
    ZipBomb,
    PackageTooLarge,
    TooManyEntries,
    ManifestMissing,
    ManifestTooLarge,
    MissingFile,
    UnsafeUrl,
    UnsupportedStandard,
    DestinationError,
    XmlForbiddenDtd,
    XmlXInclude,
    XmlMalformed,
    InvalidManifest,
    UnknownStandard,
    Cmi5InvalidId,
    Cmi5DuplicateId,
    Cmi5UrlParamConflict,
    Cmi5RelativeUrl,
    Cmi5InvalidValue,
    Cmi5InvalidReference,
)
"""Every concrete error type (codes are unique; tests check it)."""
