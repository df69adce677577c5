"""The SN termination request processes the engine's OP.1 calls: TB.2.3 Termination Request
(with TB.2.1 Exit Action Rules, TB.2.2 Post Condition Rules), UP.3 Terminate Descendent Attempts
and UP.4 End Attempt. They are methods of :class:`TerminationRequests`, which
:class:`scorm.sequencing.engine._Engine` extends (the state helpers ``act``/``ast``/``avail``...
are the engine's).
"""

from __future__ import annotations

from typing import Any

from scorm.sequencing.rollup import overall_rollup, stamp
from scorm.sequencing.sequencing_requests import SnException
from scorm.sequencing.tracking import check_rules

_POST_ACTIONS = frozenset({"exitParent", "exitAll", "retry", "retryAll", "continue", "previous"})


class TerminationRequests:
    """TB.2.x and UP.3/UP.4 processes; mixed into the engine (``self.tree``, ``self.st`` and its helpers)."""

    tree: Any
    st: Any

    # --- TB.2.3 Termination Request Process (with TB.2.1, TB.2.2, UP.3, UP.4) ------------------

    def termination_request(self, request: str) -> str | None:
        current = self.current
        if current is None:
            raise SnException("TB.2.3-1")
        if request in ("exit", "abandon") and not self.ast(current)["active"]:
            raise SnException("TB.2.3-2")
        root = self.tree.root
        if request == "exit":
            self.end_attempt(current)
            self.exit_action_rules()
            while True:  # repeat while an exitParent post-condition moved us up
                seq_request, term_request = self.post_condition_rules()
                if term_request == "exitAll":
                    return self.exit_all(seq_request)
                if term_request == "exitParent":
                    parent = self.act(self.current).parent  # type: ignore[arg-type]
                    if parent is None:
                        raise SnException("TB.2.3-4")
                    self.st["current"] = parent
                    self.end_attempt(parent)
                    continue
                if self.current == root and seq_request != "retry":
                    return "exit"  # the root was exited: end the sequencing session
                return seq_request
        if request == "exitAll":
            return self.exit_all(None)
        if request == "suspendAll":
            return self.suspend_all()
        if request == "abandon":
            self.ast(current)["active"] = False
            return None
        if request == "abandonAll":
            for node in self.tree.path_to_root(current):
                self.ast(node)["active"] = False
            self.st["current"] = root
            return "exit"
        raise SnException("TB.2.3-7")  # pragma: no cover - NB.2.1 only produces the above

    def exit_all(self, seq_request: str | None) -> str:
        current = self.current
        root = self.tree.root
        if current is not None and self.ast(current)["active"]:
            self.end_attempt(current)
        self.terminate_descendent_attempts(root)
        self.end_attempt(root)
        self.st["current"] = root
        # retryAll: exit everything, then retry the root (TB.2.3 step 3.3.2).
        return "retry" if seq_request == "retry" else "exit"

    def suspend_all(self) -> str:
        current = self.current
        root = self.tree.root
        a_st = self.ast(current)  # type: ignore[arg-type]
        if a_st["active"] or a_st["suspended"]:
            overall_rollup(self.tree, self.st, current)  # type: ignore[arg-type]
            suspended = current
        else:
            if current == root:
                raise SnException("TB.2.3-3")
            suspended = self.act(current).parent  # type: ignore[arg-type]
        self.st["suspended"] = suspended
        for node in self.tree.path_to_root(suspended):  # type: ignore[arg-type]
            self.ast(node)["active"] = False
            self.ast(node)["suspended"] = True
        self.st["current"] = root
        return "exit"

    def exit_action_rules(self) -> None:
        """TB.2.1 Sequencing Exit Action Rules Subprocess."""
        current = self.current
        ancestors = list(reversed(self.tree.path_to_root(current)[1:]))  # type: ignore[arg-type]
        for node in ancestors:  # from the root down to the parent of the current activity
            if check_rules(self.tree, self.st, self.act(node), self.act(node).exit_rules, frozenset({"exit"})):
                self.terminate_descendent_attempts(node)
                self.end_attempt(node)
                self.st["current"] = node
                return

    def post_condition_rules(self) -> tuple[str | None, str | None]:
        """TB.2.2 Sequencing Post Condition Rules Subprocess -> (sequencing, termination)."""
        current = self.current
        if self.ast(current)["suspended"]:  # type: ignore[arg-type]
            return None, None
        activity = self.act(current)  # type: ignore[arg-type]
        action = check_rules(self.tree, self.st, activity, activity.post_rules, _POST_ACTIONS)
        if action in ("retry", "continue", "previous"):
            return action, None
        if action in ("exitParent", "exitAll"):
            return None, action
        if action == "retryAll":
            return "retry", "exitAll"
        return None, None

    def terminate_descendent_attempts(self, activity_id: str) -> None:
        """UP.3 Terminate Descendent Attempts Process."""
        current = self.current
        if current is None:
            return
        common = self.common_ancestor(current, activity_id)
        for node in self.tree.path_to_root(current):
            if node == common:
                break
            if self.ast(node)["active"]:
                self.end_attempt(node)

    def end_attempt(self, activity_id: str) -> None:
        """UP.4 End Attempt Process."""
        activity = self.act(activity_id)
        a_st = self.ast(activity_id)
        if activity.is_leaf and self.tree.standard == "scorm12":
            # SCORM 1.2 RTE 3.4.4 (cmi.core.lesson_status): a SCO that never set a status is
            # "completed" when it finishes; there is no objective to satisfy automatically.
            if not a_st["suspended"] and a_st["status12"] is None and a_st["completed"] is None:
                a_st["status12"] = "completed"
                a_st["completed"] = True
                stamp(self.tree, self.st, activity_id)
        elif activity.is_leaf:
            if activity.tracked and not a_st["suspended"]:
                # With completedByMeasure the progress measure alone decides (RTE 4.2.4.1): an
                # unknown measure leaves the completion unknown (ADL CTS CO-04c).
                record = a_st["objectives"].setdefault(activity.primary.key, {"satisfied": None, "measure": None})
                # A status the SCO wrote itself, even "unknown", is the content's (ADL CTS RU-19a).
                if (
                    not activity.completion_set_by_content
                    and not activity.completed_by_measure
                    and not record.get("completion_by_content")
                    and a_st["completed"] is None
                ):
                    a_st["completed"] = True
                if not activity.objective_set_by_content and not record.get("success_by_content"):
                    if record.get("satisfied") is None:
                        record["satisfied"] = True
                stamp(self.tree, self.st, activity_id)
        else:
            a_st["suspended"] = any(self.ast(c)["suspended"] for c in self.avail(activity_id))
        a_st["active"] = False
        overall_rollup(self.tree, self.st, activity_id)
