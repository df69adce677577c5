"""Errors raised while importing a course package.

Every refusal is a :class:`PackageError` subclass with a stable ``code`` (short snake_case, safe
to store in a database or show in a CLI), the ``file`` inside the package it concerns, an
xpath-ish ``element`` locator, the ``rule`` that was broken (spec section or limit name) and a
message written for an academy content team: what is wrong and what to do about it.
"""

from __future__ import annotations

from typing import ClassVar

# Messages are written as sentences; these first words get a capital letter (a leading file
# or element name, such as "imsmanifest.xml", keeps its exact spelling).
_SENTENCE_STARTS = frozenset({"the", "a", "an", "every", "two", "writing", "cannot"})


class PackageError(Exception):
    """A course package was refused."""

    code: ClassVar[str] = "package_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        file: str | None = None,
        element: str | None = None,
        rule: str | None = None,
    ) -> None:
        text = message or (self.__doc__ or self.code).strip()
        first, _, rest = text.partition(" ")
        if first in _SENTENCE_STARTS:
            text = f"{first.capitalize()} {rest}"
        self.message = text
        self.file = file
        self.element = element
        self.rule = rule
        super().__init__(self.message)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.element:
            where.append(f"at {self.element}")
        suffix = f" ({', '.join(where)})" if where else ""
        return f"[{self.code}] {self.message}{suffix}"

    def as_dict(self) -> dict[str, str | None]:
        """Return a JSON-ready description (for the CLI, admin pages and import logs)."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "element": self.element,
            "rule": self.rule,
        }


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


class DestinationError(PackageError):
    """The content folder could not be written."""

    code = "destination_error"


# --- XML ----------------------------------------------------------------------------------------


class XmlForbiddenDtd(PackageError):
    """The manifest contains a DOCTYPE declaration (DTDs and entities are refused for safety)."""

    code = "xml_forbidden_dtd"


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
    DestinationError,
    XmlForbiddenDtd,
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
