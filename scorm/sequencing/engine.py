"""The SN Overall Sequencing Process (OP.1) and the processes it calls.

Each method of :class:`_Engine` is one pseudo-code process of the SN book Appendix C and is
named after it. The engine works on a private deep copy of the state; :func:`navigate` returns
the new state only when the request succeeded.

SPEC COMPLIANCE NOTE: OP.1 runs the termination request before it discovers that the sequencing
or delivery request fails, which leaves the learner with nothing delivered and the previous
activity ended. We run the whole process on a copy and, on any exception, return the *unchanged*
state (the request is refused up front, as ``adl.nav.request_valid`` evaluation does in SN 4.4.3).
Strict OP.1 would keep the side effects of the termination request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorm.sequencing.messages import END_MESSAGE, NOTHING_TO_DELIVER, learner_message
from scorm.sequencing.requests import parse_nav_request
from scorm.sequencing.sequencing_requests import EndSession, SequencingRequests, SnException
from scorm.sequencing.termination import TerminationRequests
from scorm.sequencing.tracking import (
    State,
    apply_randomization,
    available_children,
    check_activity,
    check_state,
    clone_state,
)
from scorm.sequencing.tree import Activity, ActivityTree

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class NavResult:
    """The outcome of one navigation request.

    Attributes:
        deliver: the leaf activity to launch now, or ``None``.
        state: the state to store (the input state, unchanged, when ``exception`` is set).
        end: the sequencing session ended (end of course, exitAll, suspendAll, ...).
        exception: SN exception code (``"DB.1.1-3"`` ...) when the request was refused.
        message: plain words for the learner.
    """

    deliver: str | None
    state: Mapping[str, Any]
    end: bool
    exception: str | None
    message: str


class _Engine(TerminationRequests, SequencingRequests):
    def __init__(self, tree: ActivityTree, state: State) -> None:
        self.tree = tree
        self.st = state

    # --- helpers -------------------------------------------------------------------------------

    def act(self, activity_id: str) -> Activity:
        return self.tree.activities[activity_id]

    def ast(self, activity_id: str) -> dict[str, Any]:
        return self.st["activities"][activity_id]  # type: ignore[no-any-return]

    @property
    def current(self) -> str | None:
        return self.st["current"]  # type: ignore[no-any-return]

    def avail(self, activity_id: str) -> list[str]:
        return available_children(self.tree, self.st, activity_id)

    def avail_for_entry(self, activity_id: str) -> list[str]:
        """Available children of a cluster about to be entered (SR.1/SR.2 onEachNewAttempt)."""
        activity = self.act(activity_id)
        if not self.ast(activity_id)["active"]:
            apply_randomization(self.tree, self.st, activity)
        return self.avail(activity_id)

    def common_ancestor(self, a: str, b: str) -> str:
        b_path = set(self.tree.path_to_root(b))
        for node in self.tree.path_to_root(a):
            if node in b_path:
                return node
        return self.tree.root

    def is_descendant(self, node: str, ancestor: str) -> bool:
        return ancestor in self.tree.path_to_root(node)

    def path_down(self, top: str, bottom: str) -> list[str]:
        """``[top, ..., bottom]`` (``top`` must be an ancestor-or-self of ``bottom``)."""
        path = self.tree.path_to_root(bottom)
        return list(reversed(path[: path.index(top) + 1]))

    # --- OP.1 Overall Sequencing Process -------------------------------------------------------

    def overall(self, request: str, target: str | None) -> tuple[str | None, bool]:
        termination, sequencing, target = self.navigation_request(request, target)
        if termination is not None:
            replacement = self.termination_request(termination)
            if replacement is not None:
                sequencing = replacement
        if sequencing is None:
            return None, False
        try:
            delivery = self.sequencing_request(sequencing, target)
        except EndSession:
            self.st["current"] = None
            self.st["ended"] = True
            return None, True
        if delivery is None:
            return None, False
        self.delivery_request(delivery)
        self.content_delivery_environment(delivery)
        return delivery, False

    # --- NB.2.1 Navigation Request Process -----------------------------------------------------

    def navigation_request(self, request: str, target: str | None) -> tuple[str | None, str | None, str | None]:
        current = self.current
        active = current is not None and self.ast(current)["active"]
        root = self.tree.root
        if request == "start":
            if current is not None:
                raise SnException("NB.2.1-1")
            return None, "start", None
        if request == "resumeAll":
            if current is not None:
                raise SnException("NB.2.1-1")
            if self.st["suspended"] is None:
                raise SnException("NB.2.1-3")
            return None, "resumeAll", None
        if request in ("continue", "previous"):
            if current is None:
                raise SnException("NB.2.1-2")
            if current == root:
                raise SnException("NB.2.1-4" if request == "continue" else "NB.2.1-6")
            parent = self.act(self.act(current).parent)  # type: ignore[arg-type]
            if request == "continue" and not parent.flow:
                raise SnException("NB.2.1-4")
            if request == "previous" and (not parent.flow or parent.forward_only):
                raise SnException("NB.2.1-5")
            return ("exit" if active else None), request, None
        if request in ("choice", "jump"):
            if target is None or target not in self.tree:
                raise SnException("NB.2.1-11")
            if request == "jump":
                if current is None:
                    raise SnException("NB.2.1-2")
                return ("exit" if active else None), "jump", target
            t_parent = self.act(target).parent
            if t_parent is not None and not self.act(t_parent).choice:
                raise SnException("NB.2.1-10")
            if current is not None and active:
                if not self.act(current).choice_exit and not self.is_descendant(target, current):
                    raise SnException("NB.2.1-8")
                return "exit", "choice", target
            return None, "choice", target
        if request in ("exit", "abandon"):
            if current is None:
                raise SnException("NB.2.1-2")
            if not active:
                raise SnException("NB.2.1-12")
            return request, "exit", None
        if request in ("exitAll", "abandonAll", "suspendAll"):
            if current is None:
                raise SnException("NB.2.1-2")
            return request, "exit", None
        raise SnException("NB.2.1-13")

    # --- DB.1.1 Delivery Request Process, DB.2 Content Delivery Environment Process ------------

    def delivery_request(self, activity_id: str) -> None:
        """DB.1.1 Delivery Request Process."""
        if not self.act(activity_id).is_leaf:
            raise SnException("DB.1.1-1")  # a jump to a cluster
        for node in self.path_down(self.tree.root, activity_id):
            if check_activity(self.tree, self.st, self.act(node)):
                raise SnException("DB.1.1-3")

    def clear_suspended_activity(self, activity_id: str) -> None:
        """DB.2.1 Clear Suspended Activity Subprocess."""
        suspended = self.st["suspended"]
        if suspended is None:
            return
        common = self.common_ancestor(activity_id, suspended)
        for node in self.tree.path_to_root(suspended):
            if self.act(node).is_leaf:
                self.ast(node)["suspended"] = False
            elif not any(self.ast(c)["suspended"] for c in self.avail(node)):
                self.ast(node)["suspended"] = False
            if node == common:
                break
        self.st["suspended"] = None

    def content_delivery_environment(self, activity_id: str) -> None:
        """DB.2 Content Delivery Environment Process."""
        current = self.current
        if current is not None and self.ast(current)["active"] and current != activity_id:
            raise SnException("DB.2-1")  # pragma: no cover - termination always ran before
        if activity_id != self.st["suspended"]:
            self.clear_suspended_activity(activity_id)
        self.terminate_descendent_attempts(activity_id)
        for node in self.path_down(self.tree.root, activity_id):
            a_st = self.ast(node)
            activity = self.act(node)
            if a_st["active"]:
                continue
            if activity.tracked:
                if a_st["suspended"]:
                    a_st["suspended"] = False
                else:
                    if activity.children:
                        apply_randomization(self.tree, self.st, activity)
                    a_st["attempts"] += 1
                    self.begin_new_attempt(activity)
            a_st["active"] = True
        self.st["current"] = activity_id
        self.st["suspended"] = None
        self.st["ended"] = False

    def begin_new_attempt(self, activity: Activity) -> None:
        """Reset the Attempt Progress Information for a new attempt (SN 4.2.1.3, DB.2).

        Objective information is kept across attempts (SN 4.2.1.2); whether a parent's rollup
        may still use it is decided by the useCurrentAttempt*Info flags at rollup time (see
        :func:`scorm.sequencing.rollup.child_objective`). SCORM 1.2 has no attempts: nothing
        is reset.
        """
        if self.tree.standard == "scorm12":
            return
        again = self.ast(activity.id)["attempts"] > 1  # counted before this call (DB.2)
        if activity.parent is None and not self.tree.objectives_global_to_system and again:
            # objectivesGlobalToSystem="false": global objectives are scoped to one attempt on
            # the course; a new attempt on the root starts them afresh (ADL CTS OB-03b).
            self.st["globals"] = {}
        a_st = self.ast(activity.id)
        a_st["completed"] = None
        a_st["progress"] = None
        a_st["status12"] = None
        a_st["duration"] = None
        for record in a_st["objectives"].values():
            # What the content set itself is attempt data (UP.4), and so are the objectives'
            # scores, completion and progress the SCO reported through cmi.objectives: a new
            # attempt gets them again only through the global objectives it reads (ADL CTS
            # SX-11b); satisfied status and measure are objective information, kept (SN 4.2.1.2).
            for name in ("completion_by_content", "success_by_content", "raw", "min", "max", "completion", "progress"):
                record.pop(name, None)


# --- public entry points -----------------------------------------------------------------------


def run_request(tree: ActivityTree, state: Mapping[str, Any], request: str, target: str | None) -> NavResult:
    """Run OP.1 on a copy of ``state`` (``request`` already parsed)."""
    work: State = clone_state(state)
    engine = _Engine(tree, work)
    try:
        deliver, end = engine.overall(request, target)
    except SnException as exc:
        return NavResult(
            deliver=None,
            state=state,
            end=False,
            exception=exc.code,
            message=learner_message(exc.code),
        )
    message = ""
    if end:
        message = END_MESSAGE
    elif deliver is None:
        message = NOTHING_TO_DELIVER
    return NavResult(deliver=deliver, state=work, end=end, exception=None, message=message)


def choice_validity(
    tree: ActivityTree, state: Mapping[str, Any], targets: list[str], request: str = "choice"
) -> dict[str, str | None]:
    """For each target, the SN exception a ``choice`` (or ``jump``) to it would raise.

    ``None`` means valid. Same answer as :func:`run_request` per target, but the termination of the current activity
    (identical for every target) runs once, and leaf targets are checked without copying the
    state (SB.2.9 and DB.1.1 do not change the state for a leaf). This keeps a table of
    contents of a few hundred items within a few milliseconds.
    """
    reader = _Engine(tree, state)  # type: ignore[arg-type]  # NB.2.1 only reads
    work: State = clone_state(state)
    terminated = _Engine(tree, work)
    termination_done = False
    termination_error: str | None = None
    replacement: str | None = None
    out: dict[str, str | None] = {}
    for target in targets:
        try:
            termination, _, _ = reader.navigation_request(request, target)
        except SnException as exc:
            out[target] = exc.code
            continue
        if termination is not None and not termination_done:
            termination_done = True
            try:
                replacement = terminated.termination_request(termination)
            except SnException as exc:
                termination_error = exc.code
        if termination is not None and termination_error is not None:
            out[target] = termination_error
            continue
        if termination is not None and replacement is not None:
            # a post-condition rule replaced the choice: evaluate the real thing
            out[target] = run_request(tree, state, request, target).exception
            continue
        if tree.activities[target].is_leaf:
            probe = terminated if termination is not None else reader  # read-only for a leaf
        else:
            probe = _Engine(tree, clone_state(work if termination is not None else state))
        try:
            delivery = probe.sequencing_request(request, target)
            if delivery is not None:
                probe.delivery_request(delivery)
            out[target] = None
        except SnException as exc:
            out[target] = exc.code
        except EndSession:
            out[target] = None
    return out


def navigate(tree: ActivityTree, state: Mapping[str, Any], request: str, target: str | None = None) -> NavResult:
    """Process a navigation request with the SN Overall Sequencing Process (OP.1).

    Args:
        tree: the course's activity tree.
        state: the attempt's stored state (not modified).
        request: ``start``, ``resumeAll``, ``continue``, ``previous``, ``choice``, ``jump``,
            ``exit``, ``exitAll``, ``abandon``, ``abandonAll``, ``suspendAll``, ``_none_`` or an
            ``adl.nav.request`` value such as ``{target=sco2}choice``.
        target: the target activity id of ``choice``/``jump`` when not embedded.

    Returns:
        A :class:`NavResult`; on a refused request ``state`` is the input state.

    Raises:
        InvalidNavigationRequest: ``request`` is not a navigation request at all.
        InvalidState: ``state`` does not belong to ``tree``.
    """
    check_state(tree, state)
    parsed = parse_nav_request(request, target)
    if parsed.request == "_none_":
        return NavResult(deliver=None, state=state, end=False, exception=None, message="")
    result = run_request(tree, state, parsed.request, parsed.target)
    logger.debug(
        "sequencing %s -> deliver=%s end=%s exception=%s",
        parsed.request,
        result.deliver,
        result.end,
        result.exception,
        extra={"action": "seq_navigate"},
    )
    return result


def begin(tree: ActivityTree, state: Mapping[str, Any]) -> NavResult:
    """What the player does when the learner opens the course.

    ``resumeAll`` when a suspended activity exists, else ``start``. When a sequencing session
    is still open (the tab was closed without suspendAll/exit), the current activity is
    delivered again unchanged if it is still active; if it had already ended, ``continue`` (else
    a new attempt on it by ``choice``) is tried. SPEC COMPLIANCE NOTE: when
    the root does not allow flow (the default ``flow="false"``, e.g. every 2004 package without
    sequencing) ``start`` delivers nothing (SB.2.2-1) and SN leaves it to the LMS to offer a
    choice; we then issue a ``choice`` for the first leaf in course order that a choice can
    deliver, so single-SCO and choice-only courses open straight away. Strict SN would show the
    menu and wait.

    Args:
        tree: the activity tree.
        state: the attempt's state.

    Returns:
        The :class:`NavResult` of the request that was made.
    """
    check_state(tree, state)
    current = state["current"]
    if current is not None:
        if state["activities"][current]["active"]:
            # relaunch after a closed tab or dropped connection: the attempt is still open
            return NavResult(deliver=current, state=state, end=False, exception=None, message="")
        for request, target in (("continue", None), ("choice", current)):
            attempt = run_request(tree, state, request, target)
            if attempt.exception is None and attempt.deliver is not None:
                return attempt
        return NavResult(deliver=None, state=state, end=False, exception=None, message=NOTHING_TO_DELIVER)
    if state["suspended"] is not None:
        resumed = navigate(tree, state, "resumeAll")
        if resumed.exception is None:
            return resumed
        # SPEC COMPLIANCE NOTE: a suspendAll issued after the SCO had already exited suspends
        # its *parent* (TB.2.3), and SB.2.6 then hands a cluster to DB.1.1, which refuses it
        # (DB.1.1-1). Rather than leave the learner stuck, start again; DB.2.1 clears the
        # suspension. Strict SN would just report DB.1.1-1.
        logger.info(
            "resumeAll refused (%s); starting instead",
            resumed.exception,
            extra={"action": "seq_resume_fallback"},
        )
    result = navigate(tree, state, "start")
    if result.exception != "SB.2.2-1":
        return result
    for leaf in tree.leaves():
        attempt = run_request(tree, state, "choice", leaf.id)
        if attempt.exception is None and attempt.deliver is not None:
            return attempt
    return result
