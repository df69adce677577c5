"""The XML value space of manifest values, parsed the same way for every manifest.

One reader of ``xs:boolean``, ``xs:decimal``, ``xs:nonNegativeInteger`` and enumerated
vocabularies (``xs:token`` restrictions) for the SCORM content-packaging parser
(:mod:`scorm.packaging.scorm_manifest`), the IMS Simple Sequencing parser
(:mod:`scorm.packaging.sequencing_xml`) and the cmi5 course structure parser
(:mod:`scorm.packaging.cmi5`), with one set of messages.

The rules (XML Schema 1.0 Part 2 datatypes, as IMS CP, SCORM CAM, IMS SS and cmi5 bind them):

* **whitespace**: these types have the ``whiteSpace="collapse"`` facet, so leading and trailing
  whitespace is ignored (``" true "`` is ``true``).
* **absent attribute**: the binding's default value.
* **present but blank attribute**: refused. None of these types has an empty lexical form, so
  ``attr=""`` is not "absent", it is an invalid value. (Before the parsers were merged, the CAM
  parser read a blank decimal attribute such as ``minProgressMeasure=""`` as absent while the SN
  parser refused it; the XML Schema reading, the SN one, is kept.)
* **empty element content**: an element whose content is empty takes the schema's default
  (XML Schema Part 1 §3.3.1, e.g. ``<imsss:minNormalizedMeasure/>`` is 1.0); callers pass
  :func:`scorm.packaging.xmlsafe.text_of`, which gives ``None`` for empty content.
* **xs:decimal**: an optional sign, digits and an optional fraction; no exponent, ``inf`` or
  ``nan`` (which ``float()`` alone would accept). **xs:nonNegativeInteger**: digits, optional
  ``+``.
* **xs:boolean**: ``true``, ``false``, ``1``, ``0``. SPEC COMPLIANCE NOTE: XML Schema's lexical
  space is case-sensitive; authoring tools write ``"True"``/``"FALSE"``, so other letter case is
  accepted (both former parsers did this).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar, overload

from scorm.messages import Params
from scorm.packaging.errors import InvalidManifest, PackageError

E = TypeVar("E", bound=StrEnum)

_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _label(where: str) -> str:
    """The value's name for a message: the last step of its locator (``isvisible`` for ``.../@isvisible``)."""
    last = where.rstrip("/").rsplit("/", 1)[-1]
    return last.split("[", 1)[0].lstrip("@") or where


class ValueReader:
    """Reads typed values of one manifest file, raising that parser's error with a locator.

    Args:
        file: the manifest's path in the package, for error reports.
        spec: the specification whose value spaces and vocabularies apply, named in the
            ``rule`` of range and vocabulary errors (``"SCORM CAM"``, ``"SN 5.1"``, ...).
        error: the :class:`PackageError` subclass to raise (its code is the refusal's code).
    """

    def __init__(
        self, file: str, *, spec: str, error: type[PackageError] = InvalidManifest
    ) -> None:
        self.file = file
        self.spec = spec
        self.error = error

    def fail(self, where: str, key: str, rule: str, params: Params | None = None) -> PackageError:
        """The error to raise for a value at ``where`` (sentence ``key`` of :mod:`scorm.messages`)."""
        return self.error(key=key, params=params, file=self.file, element=where, rule=rule)

    def _present(self, raw: str, where: str, rule: str) -> str:
        value = raw.strip()
        if not value:
            raise self.fail(
                where,
                "value_empty",
                rule, params={"label": _label(where)},
            )
        return value

    def boolean(self, raw: str | None, default: bool, where: str) -> bool:
        """An ``xs:boolean``; ``default`` when ``raw`` is ``None`` (absent)."""
        if raw is None:
            return default
        value = self._present(raw, where, "XML Schema xs:boolean").lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.fail(
            where,
            "value_not_boolean",
            "XML Schema xs:boolean", params={"label": _label(where), "raw": raw},
        )

    @overload
    def decimal(self, raw: str | None, default: float, where: str, low: float, high: float) -> float: ...

    @overload
    def decimal(
        self, raw: str | None, default: None, where: str, low: float, high: float
    ) -> float | None: ...

    def decimal(
        self, raw: str | None, default: float | None, where: str, low: float, high: float
    ) -> float | None:
        """An ``xs:decimal`` in ``[low, high]``; ``default`` when ``raw`` is ``None``."""
        if raw is None:
            return default
        value = self._present(raw, where, "XML Schema xs:decimal")
        if not _DECIMAL_RE.fullmatch(value):
            raise self.fail(
                where,
                "value_not_decimal",
                "XML Schema xs:decimal", params={"label": _label(where), "raw": raw},
            )
        number = float(value)
        if not (low <= number <= high):
            raise self.fail(
                where,
                "value_out_of_bounds",
                f"{self.spec} value space",
                params={"label": _label(where), "value": value, "low": f"{low:g}", "high": f"{high:g}"},
            )
        return number

    def integer(self, raw: str | None, where: str) -> int | None:
        """An ``xs:nonNegativeInteger``; ``None`` when ``raw`` is ``None`` (absent)."""
        if raw is None:
            return None
        value = self._present(raw, where, "XML Schema xs:nonNegativeInteger")
        if not _INTEGER_RE.fullmatch(value):
            raise self.fail(
                where,
                "value_not_integer",
                "XML Schema xs:nonNegativeInteger", params={"label": _label(where), "raw": raw},
            )
        number = int(value)
        if number < 0:
            raise self.fail(
                where,
                "value_negative",
                "XML Schema xs:nonNegativeInteger", params={"label": _label(where), "value": value},
            )
        return number

    def vocab(self, enum: type[E], raw: str | None, default: E | None, where: str) -> E:
        """A member of ``enum`` (exact token); ``default`` when absent, refused when required."""
        if raw is None:
            if default is None:
                raise self.fail(
                    where, "value_required", f"{self.spec} (required attribute)", params={"label": _label(where)}
                )
            return default
        value = self._present(raw, where, f"{self.spec} vocabulary")
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.fail(
                where,
                "value_not_in_list",
                f"{self.spec} vocabulary", params={"label": _label(where), "raw": raw, "allowed": allowed},
            ) from None


__all__ = ["ValueReader"]
