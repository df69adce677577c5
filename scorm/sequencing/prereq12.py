"""SCORM 1.2 ``adlcp:prerequisites`` (type ``aicc_script``): parser and evaluator.

Grammar (SCORM 1.2 CAM 2.3.2.5.2, taken from the AICC CMI001 "prerequisites" script)::

    expr    := and ( "|" and )*
    and     := unary ( "&" unary )*
    unary   := "~" unary | primary
    primary := "(" expr ")"
             | COUNT "*" "{" expr ( "," expr )* "}"      # at least COUNT members are true
             | IDENT ( ( "=" | "<>" ) STATUS )?

* ``IDENT`` alone is true when that item's lesson_status is ``passed`` or ``completed``.
* ``IDENT = STATUS`` / ``IDENT <> STATUS`` compare the status; STATUS is one of ``passed``,
  ``completed``, ``failed``, ``incomplete``, ``browsed``, ``not attempted`` (any case, optionally
  quoted) or its one-letter AICC abbreviation ``p c f i b n``.
* ``~`` is logical NOT, ``&`` AND (binds tighter), ``|`` OR; parentheses group.
* ``N*{a,b,c}`` ("set") is true when at least ``N`` members are true.

The parsed form is a small tuple tree so it stays hashable inside the frozen activity tree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Final

from scorm.sequencing.errors import InvalidPrerequisites

logger = logging.getLogger(__name__)

# SCORM 1.2 RTE 3.4.4 cmi.core.lesson_status vocabulary; AICC one-letter abbreviations.
STATUS_WORDS: Final[Mapping[str, str]] = {
    "passed": "passed",
    "p": "passed",
    "completed": "completed",
    "c": "completed",
    "failed": "failed",
    "f": "failed",
    "incomplete": "incomplete",
    "i": "incomplete",
    "browsed": "browsed",
    "b": "browsed",
    "not attempted": "not attempted",
    "n": "not attempted",
}
SATISFYING: Final = frozenset({"passed", "completed"})

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><>|[&|~()=*{},])
      | "(?P<quoted>[^"]*)"
      | (?P<word>[^\s&|~()=<>*{},"]+)
    )""",
    re.VERBOSE,
)

Expr = tuple  # ("id", name) | ("eq"/"ne", name, status) | ("not", e) | ("and"/"or", *es) | ("set", n, *es)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidPrerequisites(key="cannot_read_prerequisites", params={"text": text[pos:], "text2": text})
        pos = m.end()
        if m.group("op") is not None:
            tokens.append(("op", m.group("op")))
        elif m.group("quoted") is not None:
            tokens.append(("word", m.group("quoted")))
        elif m.group("word") is not None:
            tokens.append(("word", m.group("word")))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def fail(self, key: str, **params: str) -> InvalidPrerequisites:
        return InvalidPrerequisites(key=key, params={"text": self.text, **params})

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.fail("prerequisites_end_early")
        self.pos += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok != ("op", op):
            raise self.fail("prerequisites_expected", expected=op, found=tok[1])

    def parse(self) -> Expr:
        if not self.tokens:
            raise self.fail("prerequisites_empty")
        expr = self.expr()
        if self.peek() is not None:
            raise self.fail("prerequisites_unexpected", found=self.peek()[1])  # type: ignore[index]
        return expr

    def expr(self) -> Expr:
        return self._joined("|", "or", self.and_)

    def and_(self) -> Expr:
        return self._joined("&", "and", self.unary)

    def _joined(self, op: str, tag: str, operand: Callable[[], Expr]) -> Expr:
        """``operand (op operand)*``: one operand alone, else ``(tag, *operands)``."""
        parts = [operand()]
        while self.peek() == ("op", op):
            self.pos += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (tag, *parts)

    def unary(self) -> Expr:
        if self.peek() == ("op", "~"):
            self.pos += 1
            return ("not", self.unary())
        return self.primary()

    def status(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise self.fail("prerequisites_expected_status", found=value)
        word = value.strip().lower()
        if word == "not" and self.peek() is not None and self.peek()[1].lower() == "attempted":  # type: ignore[index]
            self.pos += 1
            word = "not attempted"
        word = " ".join(word.split())
        if word not in STATUS_WORDS:
            raise self.fail("prerequisites_not_status", found=value)
        return STATUS_WORDS[word]

    def primary(self) -> Expr:
        kind, value = self.take()
        if (kind, value) == ("op", "("):
            inner = self.expr()
            self.expect(")")
            return inner
        if kind != "word":
            raise self.fail("prerequisites_unexpected", found=value)
        if self.peek() == ("op", "*"):
            if not value.isdigit():
                raise self.fail("prerequisites_count_not_integer", found=value)
            self.pos += 1
            self.expect("{")
            members = [self.expr()]
            while self.peek() == ("op", ","):
                self.pos += 1
                members.append(self.expr())
            self.expect("}")
            return ("set", int(value), *members)
        if self.peek() == ("op", "="):
            self.pos += 1
            return ("eq", value, self.status())
        if self.peek() == ("op", "<"):  # pragma: no cover - "<>" is one token
            raise self.fail("prerequisites_use_not_equal")
        if self.peek() == ("op", "<>"):
            self.pos += 1
            return ("ne", value, self.status())
        return ("id", value)


def parse_prerequisites(text: str) -> Expr:
    """Parse an ``aicc_script`` prerequisites expression.

    Args:
        text: the element text, e.g. ``"A1 & (A2 | ~A3)"`` or ``"2*{A,B,C}"``.

    Returns:
        The expression tree (nested tuples).

    Raises:
        InvalidPrerequisites: the text is not a valid expression.
    """
    return _Parser(text).parse()


def referenced_items(expr: Expr) -> frozenset[str]:
    """Return every item identifier the expression refers to."""
    tag = expr[0]
    if tag in ("id", "eq", "ne"):
        return frozenset({expr[1]})
    if tag == "not":
        return referenced_items(expr[1])
    members = expr[2:] if tag == "set" else expr[1:]
    out: frozenset[str] = frozenset()
    for member in members:
        out |= referenced_items(member)
    return out


def evaluate_prerequisites(expr: Expr, status_of: Callable[[str], str]) -> bool:
    """Evaluate a parsed expression against the learner's lesson statuses.

    Args:
        expr: from :func:`parse_prerequisites`.
        status_of: item identifier -> SCORM 1.2 lesson_status (``"not attempted"`` if none).

    Returns:
        ``True`` when the prerequisites are met.
    """
    tag = expr[0]
    if tag == "id":
        return status_of(expr[1]) in SATISFYING
    if tag == "eq":
        return status_of(expr[1]) == expr[2]
    if tag == "ne":
        return status_of(expr[1]) != expr[2]
    if tag == "not":
        return not evaluate_prerequisites(expr[1], status_of)
    if tag == "and":
        return all(evaluate_prerequisites(e, status_of) for e in expr[1:])
    if tag == "or":
        return any(evaluate_prerequisites(e, status_of) for e in expr[1:])
    if tag == "set":
        count = sum(1 for e in expr[2:] if evaluate_prerequisites(e, status_of))
        return count >= expr[1]
    raise InvalidPrerequisites(key="unknown_expression_node", params={"tag": repr(tag)})
