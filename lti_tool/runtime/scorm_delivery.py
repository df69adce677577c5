"""The SCORM entries of the delivery registry: SCORM 1.2 SCOs, SCORM 2004 SCOs, and assets.

Each SCO entry starts a session from the version's typed launch parameters
(``scorm.cmi.Scorm12Launch`` / ``Scorm2004Launch``: the manifest's settings, and for 2004 the
sequencer's objective and threshold data) and applies commits through ``scorm.cmi``, the
authority on every CMI value. An asset has no runtime: its one commit marks it completed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from lti_tool.runtime.deliveries import CommitInput, Committed, Delivery, DeliveryKind, SessionStart
from lti_tool.runtime.structure import ASSET
from scorm import sequencing
from scorm.cmi import (
    Scorm12Launch,
    Scorm2004Launch,
    apply_commit,
    attempt_continues,
    finish_session,
    initial_state_12,
    initial_state_2004,
    outcome_from_state,
)
from scorm.outcome import Completion, Outcome
from scorm.packaging.scorm_manifest import Item


def launch_settings(item: Item | None, cmi_version: str) -> dict[str, Any]:
    """The launch parameters a SCO's manifest entry sets, as keywords of the version's launch type."""
    if item is None:
        return {}
    settings: dict[str, Any] = {"launch_data": item.data_from_lms, "time_limit_action": item.time_limit_action}
    if cmi_version == "1.2":
        settings["mastery_score"] = item.mastery_score
        settings["max_time_allowed"] = item.max_time_allowed
        return settings
    seq = item.sequencing
    if seq is not None:
        primary = seq.objectives.primary
        if primary is not None and primary.satisfied_by_measure:
            settings["scaled_passing_score"] = primary.min_normalized_measure
        settings["objective_ids"] = tuple(o.objective_id for o in seq.objectives.all() if o.objective_id)
        settings["max_time_allowed"] = seq.limit_conditions.attempt_absolute_duration_limit
    threshold = item.completion_threshold
    if threshold is not None and threshold.completed_by_measure:
        settings["completion_threshold"] = threshold.min_progress_measure
    return settings


def _previous(start: SessionStart, version: str) -> Mapping[str, Any] | None:
    """The stored state this session continues, or None for a new attempt of the SCO.

    An earlier session that never terminated is finished first, so its time counts. ``cmi.exit``
    unset means "resume" only for such a session (a crash); after Terminate it is "" = a new
    attempt (RTE 4th 4.2.8, ADL CTS DMB).
    """
    if not start.stored:
        return None
    previous = finish_session(start.stored, version) if start.stored_open else start.stored
    if not attempt_continues(previous, version, resume_if_exit_unset=start.stored_open):
        return None
    return previous


def start_12(start: SessionStart) -> dict[str, Any]:
    """The state a SCORM 1.2 session starts with."""
    params = Scorm12Launch(
        learner_id=start.learner_id, learner_name=start.learner_name, **launch_settings(start.item, "1.2")
    )
    return initial_state_12(params, _previous(start, "1.2"))


def start_2004(start: SessionStart) -> dict[str, Any]:
    """The state a SCORM 2004 session starts with: the manifest's settings, then the sequencer's.

    The sequencer's objective status (read through global objective maps), passing score and
    completion threshold win over the manifest's (``scorm.sequencing.launch_data``).
    """
    settings = launch_settings(start.item, "2004")
    tree = start.tree
    if tree is not None and start.sequencing and start.item_id in tree.activities:
        data = sequencing.launch_data(tree, start.sequencing, start.item_id)
        settings["scaled_passing_score"] = data["scaled_passing_score"]
        settings["completion_threshold"] = data["completion_threshold"]
        ids = [o["id"] for o in data["objectives"]]
        settings["objective_ids"] = tuple(dict.fromkeys([*settings.get("objective_ids", ()), *ids]))
        settings["objectives"] = tuple(data["objectives"])
    if start.shared_data:
        settings["shared_data"] = start.shared_data
    params = Scorm2004Launch(learner_id=start.learner_id, learner_name=start.learner_name, **settings)
    return initial_state_2004(params, _previous(start, "2004"))


def _left_without_exit(commit: CommitInput) -> bool:
    """A running session whose content set no ``cmi.exit`` (stored or in this commit)."""
    if not commit.session_open or "cmi.exit" in commit.changes:
        return False
    values = commit.state.get("values") if isinstance(commit.state, dict) else None
    return not (values or {}).get("cmi.exit")


def commit_sco(commit: CommitInput, *, suspend_on_unload: bool) -> Committed:
    """Apply a SCO's commit through ``scorm.cmi`` (re-validating every value) and read its outcome.

    ``suspend_on_unload`` (SCORM 2004): the page closed on a session the content never
    terminated: a closed tab is not a normal exit, so the relaunch resumes where the learner was
    (runtime.js contract).
    """
    changes = commit.changes
    if suspend_on_unload and commit.terminate and commit.unloaded and _left_without_exit(commit):
        changes = {**changes, "cmi.exit": "suspend"}
    result = apply_commit(commit.state, changes, commit.stored_as)
    state = result.state
    if commit.terminate and commit.session_open:
        state = finish_session(state, commit.stored_as)
    return Committed(
        state=state,
        outcome=outcome_from_state(state, commit.stored_as),
        session_open=commit.session_open and not commit.terminate,
        stored=len(result.stored),
        rejected=tuple(
            {"element": r.element, "value": r.value, "code": r.code, "message": r.message} for r in result.rejected
        ),
        # cmi.objectives.n feed sequencing (objective maps, precondition rules) though they are
        # not part of the graded outcome
        objectives_changed=any(element.startswith("cmi.objectives.") for element in result.stored),
        stored_elements=result.stored,
    )


def start_asset(start: SessionStart) -> dict[str, Any]:
    """An asset has no data model: its sessions hold nothing."""
    return {}


def commit_asset(commit: CommitInput) -> Committed:
    """An asset is completed once shown (the player's ``asset_completed``), and stays so."""
    completed = commit.asset_completed or bool(commit.previous_outcome)
    return Committed(
        state=commit.state,
        outcome=Outcome(completion=Completion.COMPLETED) if completed else None,
        session_open=False,
    )


SCORM12 = Delivery(
    kind=DeliveryKind.SCORM12,
    label="SCORM 1.2",
    standard="scorm12",
    stored_as="1.2",
    runtime="1.2",
    start=start_12,
    commit=functools.partial(commit_sco, suspend_on_unload=False),
)
SCORM2004 = Delivery(
    kind=DeliveryKind.SCORM2004,
    label="SCORM 2004",
    standard="scorm2004",
    stored_as="2004",
    runtime="2004",
    start=start_2004,
    commit=functools.partial(commit_sco, suspend_on_unload=True),
    rolls_up_by_sequencing=True,
)
ASSET_DELIVERY = Delivery(
    kind=DeliveryKind.ASSET,
    label="asset",
    standard=None,
    stored_as=ASSET,
    runtime=None,
    start=start_asset,
    commit=commit_asset,
)
