"""What an instructor looks at beside the class table: which questions most learners miss, how
scores spread, and how far the class got.

Per-question results read the interactions the content recorded (``cmi.interactions.n.id`` and
``.result``, SCORM 1.2 and 2004) in each learner's newest attempt of one activity. A learner who
answered a question several times counts once, with their last recorded answer (the highest
index with that id): that is the answer their score reflects.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lti_tool.storage import Database
from lti_tool.storage import learners as learner_store

_INTERACTION = re.compile(r"^cmi\.interactions\.(\d+)\.(id|result|description|type)$")
#: ``result`` values that count as a miss (SCORM 1.2 says ``wrong``, 2004 ``incorrect``).
MISSED = frozenset({"incorrect", "wrong"})
CORRECT = frozenset({"correct"})
#: At most this many questions are listed (the most missed first).
MAX_QUESTIONS = 50


@dataclass(frozen=True, kw_only=True)
class QuestionResult:
    """One question (interaction id) across the class."""

    item_id: str
    question_id: str
    description: str
    answered: int
    correct: int
    missed: int
    other: int  # unanticipated, neutral, a numeric result, or none

    @property
    def missed_share(self) -> float:
        """Missed over answered (0 when nobody answered)."""
        return self.missed / self.answered if self.answered else 0.0


def _last_answers(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """question id → its fields from the highest interaction index that carries that id."""
    by_index: dict[int, dict[str, str]] = defaultdict(dict)
    for key, value in values.items():
        match = _INTERACTION.match(key)
        if match:
            by_index[int(match.group(1))][match.group(2)] = str(value)
    answers: dict[str, dict[str, str]] = {}
    for index in sorted(by_index):
        fields = by_index[index]
        qid = fields.get("id")
        if qid:
            answers[qid] = fields
    return answers


def tally_questions(states: Iterable[tuple[str, Mapping[str, str]]]) -> list[QuestionResult]:
    """Tally ``(item id, cmi values)`` of one SCO state per learner and item into per-question results.

    Sorted by the share missed (highest first), then by the number who answered; at most
    :data:`MAX_QUESTIONS`.
    """
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    descriptions: dict[tuple[str, str], str] = {}
    for item_id, values in states:
        for qid, fields in _last_answers(values).items():
            key = (item_id, qid)
            row = counts[key]
            result = fields.get("result", "").strip().lower()
            row[0] += 1
            if result in CORRECT:
                row[1] += 1
            elif result in MISSED:
                row[2] += 1
            else:
                row[3] += 1
            if fields.get("description"):
                descriptions[key] = fields["description"]
    results = [
        QuestionResult(
            item_id=item,
            question_id=qid,
            description=descriptions.get((item, qid), ""),
            answered=n,
            correct=ok,
            missed=bad,
            other=other,
        )
        for (item, qid), (n, ok, bad, other) in counts.items()
    ]
    results.sort(key=lambda q: (-q.missed_share, -q.answered, q.item_id, q.question_id))
    return results[:MAX_QUESTIONS]


def question_results(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[QuestionResult]:
    """Per-question results of one activity, over each learner's newest attempt."""
    rows = learner_store.newest_attempt_sco_states(
        db, platform_id=platform_id, deployment_id=deployment_id, resource_link_id=resource_link_id
    )
    return tally_questions(
        (item_id, (state or {}).get("values") or {}) for item_id, state in rows if isinstance(state, dict)
    )


def funnel_counts(states: Sequence[str], enrolled: int) -> list[tuple[str, int]]:
    """(stage, count) for a class: enrolled, started, completed (passed and failed included), passed.

    Args:
        states: each learner's state (``not_started``, ``in_progress``, ``completed``, ``passed``, ``failed``).
        enrolled: learners in the class (roster size when known, else those who opened the activity).
    """
    started = sum(1 for s in states if s != "not_started")
    completed = sum(1 for s in states if s in ("completed", "passed", "failed"))
    passed = sum(1 for s in states if s == "passed")
    return [("enrolled", max(enrolled, started)), ("started", started), ("completed", completed), ("passed", passed)]
