"""Per-question results and the class funnel, from the interactions the content recorded."""

from __future__ import annotations

from lti_tool.class_insights import MAX_QUESTIONS, funnel_counts, question_results, tally_questions
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, LearnerRegistration, ScoState
from tests.test_regional import add_course, enrol


def answers(*triples: tuple[str, str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for index, (qid, result, description) in enumerate(triples):
        values[f"cmi.interactions.{index}.id"] = qid
        values[f"cmi.interactions.{index}.result"] = result
        if description:
            values[f"cmi.interactions.{index}.description"] = description
    return values


def test_most_missed_first_with_the_last_answer_of_each_learner() -> None:
    results = tally_questions(
        [
            ("sco1", answers(("q1", "correct", "Who may search?"), ("q2", "incorrect", ""))),
            ("sco1", answers(("q1", "wrong", ""), ("q2", "incorrect", ""), ("q1", "correct", ""))),  # retried q1
            ("sco1", answers(("q1", "incorrect", ""), ("q2", "unanticipated", ""), ("q3", "0.5", ""))),
        ]
    )
    by_id = {q.question_id: q for q in results}
    assert [q.question_id for q in results] == ["q2", "q1", "q3"]
    assert (by_id["q1"].answered, by_id["q1"].correct, by_id["q1"].missed) == (3, 2, 1)
    assert by_id["q1"].description == "Who may search?"
    assert (by_id["q2"].missed, by_id["q2"].other) == (2, 1)
    assert by_id["q3"].other == 1 and by_id["q3"].missed_share == 0.0


def test_same_question_id_in_two_scos_is_two_questions_and_the_list_is_bounded() -> None:
    results = tally_questions([("a", answers(("q", "wrong", ""))), ("b", answers(("q", "correct", "")))])
    assert sorted((q.item_id, q.missed) for q in results) == [("a", 1), ("b", 0)]
    many = tally_questions([("x", answers(*[(f"q{i}", "correct", "") for i in range(MAX_QUESTIONS + 9)]))])
    assert len(many) == MAX_QUESTIONS


def test_values_without_interactions_or_with_junk_keys_count_nothing() -> None:
    assert tally_questions([("x", {"cmi.interactions.a.id": "q", "cmi.location": "3"})]) == []
    assert tally_questions([("x", {"cmi.interactions.0.result": "correct"})]) == []  # no id


def test_question_results_read_each_learners_newest_attempt(services: Services, platform_id: int) -> None:
    course = add_course(services, "Search and seizure")
    enrol(services, platform_id, course, "ana", ({}, None), ({}, None))
    enrol(services, platform_id, course, "ben", ({}, None))
    with services.db.session() as s:
        attempts = {
            (reg.learner_sub, a.number): a.id
            for a, reg in s.query(Attempt, LearnerRegistration).join(
                LearnerRegistration, LearnerRegistration.id == Attempt.registration_id
            )
        }

        def put(who: str, number: int, values: dict[str, str]) -> None:
            s.add(
                ScoState(
                    attempt_id=attempts[(who, number)], item_id="sco1", cmi_version="2004", state={"values": values}
                )
            )

        put("ana", 1, answers(("q1", "incorrect", "")))  # her old attempt: not counted
        put("ana", 2, answers(("q1", "correct", "")))
        put("ben", 1, answers(("q1", "incorrect", "")))
    link = f"link-{course[0]}"
    [q1] = question_results(services.db, platform_id=platform_id, deployment_id="d", resource_link_id=link)
    assert (q1.answered, q1.correct, q1.missed) == (2, 1, 1)
    other_tenant = question_results(services.db, platform_id=platform_id, deployment_id="other", resource_link_id=link)
    assert other_tenant == []


def test_funnel_counts() -> None:
    states = ["not_started", "in_progress", "completed", "passed", "failed", "passed"]
    assert funnel_counts(states, enrolled=8) == [("enrolled", 8), ("started", 5), ("completed", 4), ("passed", 2)]
    assert funnel_counts(["passed"], enrolled=0)[0] == ("enrolled", 1)  # never fewer enrolled than started
