"""The SN sequencing request processes (SB.2.x) the engine's OP.1 calls, with their traversals.

SB.2.1 Flow Tree Traversal, SB.2.2 Flow Activity Traversal, SB.2.3 Flow, SB.2.4 Choice Activity
Traversal, SB.2.5 Start, SB.2.6 Resume All, SB.2.7 Continue, SB.2.8 Previous, SB.2.9 Choice (with
SB.2.9.1/SB.2.9.2), SB.2.10 Retry, SB.2.11 Exit, SB.2.12 Sequencing Request, SB.2.13 Jump. They are
methods of :class:`SequencingRequests`, which :class:`scorm.sequencing.engine._Engine` extends
(the state helpers ``act``/``ast``/``avail``... are the engine's).
"""

from __future__ import annotations

import logging
from typing import Any

from scorm.sequencing.tracking import check_activity, check_rules

logger = logging.getLogger(__name__)

FORWARD = "forward"
BACKWARD = "backward"


class SnException(Exception):
    """Unwinds the process stack with an SN exception code (never leaves the engine)."""

    def __init__(self, code: str, *, end: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.end = end


class EndSession(Exception):
    """SB.2.1-1 / SB.2.11: the sequencing session ends (not a failure)."""


class SequencingRequests:
    """SB.2.x processes; mixed into the engine (``self.tree``, ``self.st`` and its helpers)."""

    tree: Any
    st: Any

    # --- SB.2.12 Sequencing Request Process ----------------------------------------------------

    def sequencing_request(self, request: str, target: str | None) -> str | None:
        handler = {
            "start": self.start,
            "resumeAll": self.resume_all,
            "exit": self.exit_request,
            "retry": self.retry,
            "continue": self.continue_request,
            "previous": self.previous_request,
        }.get(request)
        if handler is not None:
            return handler()
        if request == "choice":
            return self.choice(target)  # type: ignore[arg-type]
        if request == "jump":
            return self.jump(target)  # type: ignore[arg-type]
        raise SnException("SB.2.12-1")  # pragma: no cover - only the above are produced

    def start(self) -> str | None:
        """SB.2.5 Start Sequencing Request Process."""
        if self.current is not None:
            raise SnException("SB.2.5-1")  # pragma: no cover - NB.2.1-1 catches it first
        root = self.tree.root
        if self.act(root).is_leaf:
            return root
        self.st["ended"] = False
        return self.flow(root, FORWARD, consider_children=True)

    def resume_all(self) -> str | None:
        """SB.2.6 Resume All Sequencing Request Process."""
        if self.current is not None:
            raise SnException("SB.2.6-1")  # pragma: no cover - NB.2.1-1 catches it first
        if self.st["suspended"] is None:
            raise SnException("SB.2.6-2")  # pragma: no cover - NB.2.1-3 catches it first
        self.st["ended"] = False
        return self.st["suspended"]  # type: ignore[no-any-return]

    def exit_request(self) -> str | None:
        """SB.2.11 Exit Sequencing Request Process."""
        current = self.current
        if current is None:
            raise SnException("SB.2.11-1")  # pragma: no cover - NB.2.1 checks first
        if self.ast(current)["active"]:
            raise SnException("SB.2.11-2")  # pragma: no cover - termination ran before
        if current == self.tree.root:
            raise EndSession
        return None

    def retry(self) -> str | None:
        """SB.2.10 Retry Sequencing Request Process."""
        current = self.current
        if current is None:
            raise SnException("SB.2.10-1")  # pragma: no cover - only after a termination
        a_st = self.ast(current)
        if a_st["active"] or a_st["suspended"]:
            raise SnException("SB.2.10-2")
        if self.act(current).is_leaf:
            return current
        if current == self.tree.root and not self.tree.objectives_global_to_system:
            # A retry of the root is a new attempt on the course: with objectivesGlobalToSystem
            # "false" its global objectives start afresh before the flow evaluates any rule on
            # them (ADL CTS RU-13d), not only when the new attempt is delivered.
            self.st["globals"] = {}
        try:
            return self.flow(current, FORWARD, consider_children=True)
        except SnException as exc:
            raise SnException("SB.2.10-3") from exc

    def continue_request(self) -> str | None:
        """SB.2.7 Continue Sequencing Request Process."""
        return self._flow_request(FORWARD, "SB.2.7")

    def previous_request(self) -> str | None:
        """SB.2.8 Previous Sequencing Request Process."""
        return self._flow_request(BACKWARD, "SB.2.8")

    def _flow_request(self, direction: str, process: str) -> str | None:
        """SB.2.7 / SB.2.8: flow from the current activity (``process``-1: none; -2: flow disabled)."""
        current = self.current
        if current is None:
            raise SnException(f"{process}-1")  # pragma: no cover - NB.2.1-2 catches it first
        if current != self.tree.root:
            parent = self.act(current).parent
            if not self.act(parent).flow:  # type: ignore[arg-type]
                raise SnException(f"{process}-2")
        return self.flow(current, direction, consider_children=False)

    def jump(self, target: str) -> str | None:
        """SB.2.13 Jump Sequencing Request Process (4th edition)."""
        if self.current is None:
            raise SnException("SB.2.13-1")  # pragma: no cover - NB.2.1-2 catches it first
        return target

    # --- SB.2.1 .. SB.2.3 flow -----------------------------------------------------------------

    def is_last_forward(self, activity_id: str, consider_children: bool) -> bool:
        if consider_children and self.act(activity_id).children and self.avail(activity_id):
            return False
        node = activity_id
        while (parent := self.act(node).parent) is not None:
            siblings = self.avail(parent)
            if siblings and siblings[-1] != node:
                return False
            node = parent
        return True

    def flow_tree_traversal(
        self,
        activity_id: str,
        direction: str,
        consider_children: bool,
        previous_direction: str | None = None,
    ) -> tuple[str, str]:
        """SB.2.1 Flow Tree Traversal Subprocess -> (next activity, traversal direction)."""
        root = self.tree.root
        reversed_direction = False
        parent = self.act(activity_id).parent
        if previous_direction == BACKWARD and parent is not None:
            siblings = self.avail(parent)
            if siblings and siblings[-1] == activity_id:
                direction = BACKWARD
                activity_id = siblings[0]
                reversed_direction = True
        activity = self.act(activity_id)
        if direction == FORWARD:
            if self.is_last_forward(activity_id, consider_children) or (activity_id == root and not consider_children):
                self.terminate_descendent_attempts(root)
                self.end_attempt(root)
                raise EndSession  # SB.2.1-1: end of the sequencing session
            if activity.is_leaf or not consider_children:
                siblings = self.avail(activity.parent)  # type: ignore[arg-type]
                index = siblings.index(activity_id)
                if index == len(siblings) - 1:
                    return self.flow_tree_traversal(activity.parent, FORWARD, False)  # type: ignore[arg-type]
                return siblings[index + 1], FORWARD
            children = self.avail_for_entry(activity_id)
            if children:
                return children[0], FORWARD
            raise SnException("SB.2.1-2")
        if activity_id == root:
            raise SnException("SB.2.1-3")
        if activity.is_leaf or not consider_children:
            parent_act = self.act(activity.parent)  # type: ignore[arg-type]
            if not reversed_direction and parent_act.forward_only:
                raise SnException("SB.2.1-4")
            siblings = self.avail(parent_act.id)
            index = siblings.index(activity_id)
            if index == 0:
                return self.flow_tree_traversal(parent_act.id, BACKWARD, False)
            return siblings[index - 1], BACKWARD
        children = self.avail_for_entry(activity_id)
        if not children:
            raise SnException("SB.2.1-2")
        if activity.forward_only:
            return children[0], FORWARD
        return children[-1], BACKWARD

    def flow_activity_traversal(self, activity_id: str, direction: str, previous_direction: str | None = None) -> str:
        """SB.2.2 Flow Activity Traversal Subprocess -> the deliverable leaf."""
        activity = self.act(activity_id)
        parent = self.act(activity.parent)  # type: ignore[arg-type]
        if not parent.flow:
            raise SnException("SB.2.2-1")
        if check_rules(self.tree, self.st, activity, activity.pre_rules, frozenset({"skip"})):
            nxt, traversal = self.flow_tree_traversal(activity_id, direction, False, previous_direction)
            if previous_direction == BACKWARD and traversal == BACKWARD:
                return self.flow_activity_traversal(nxt, BACKWARD, None)
            return self.flow_activity_traversal(nxt, direction, previous_direction)
        if check_activity(self.tree, self.st, activity):
            raise SnException("SB.2.2-2")
        if not activity.is_leaf:
            nxt, traversal = self.flow_tree_traversal(activity_id, direction, True)
            if direction == BACKWARD and traversal == FORWARD:
                return self.flow_activity_traversal(nxt, FORWARD, BACKWARD)
            return self.flow_activity_traversal(nxt, direction, None)
        return activity_id

    def flow(self, activity_id: str, direction: str, *, consider_children: bool) -> str:
        """SB.2.3 Flow Subprocess."""
        nxt, _ = self.flow_tree_traversal(activity_id, direction, consider_children)
        return self.flow_activity_traversal(nxt, direction)

    # --- SB.2.4, SB.2.9 choice -----------------------------------------------------------------

    def choice_activity_traversal(self, activity_id: str, direction: str) -> None:
        """SB.2.4 Choice Activity Traversal Subprocess."""
        activity = self.act(activity_id)
        if direction == FORWARD:
            if check_rules(self.tree, self.st, activity, activity.pre_rules, frozenset({"stopForwardTraversal"})):
                raise SnException("SB.2.4-1")
            return
        if activity.parent is None:
            raise SnException("SB.2.4-3")  # pragma: no cover - the root is never traversed back
        if self.act(activity.parent).forward_only:
            raise SnException("SB.2.4-2")

    def choice_flow_tree_traversal(self, activity_id: str, direction: str) -> str | None:
        """SB.2.9.2 Choice Flow Tree Traversal Subprocess (siblings only, no children)."""
        parent = self.act(activity_id).parent
        if parent is None:
            return None
        siblings = self.avail(parent)
        index = siblings.index(activity_id)
        if direction == FORWARD:
            if index == len(siblings) - 1:
                return self.choice_flow_tree_traversal(parent, FORWARD)
            return siblings[index + 1]
        if index == 0:
            return self.choice_flow_tree_traversal(parent, BACKWARD)
        return siblings[index - 1]

    def check_prevent_activation(self, path: list[str], common: str) -> None:
        for node in path:
            activity = self.act(node)
            if (
                node != common
                and activity.children
                and activity.prevent_activation
                and not self.ast(node)["active"]
                and node != path[-1]
            ):
                raise SnException("SB.2.9-6")

    def choice(self, target: str) -> str | None:
        """SB.2.9 Choice Sequencing Request Process."""
        tree = self.tree
        if target not in tree:
            raise SnException("SB.2.9-1")  # pragma: no cover - NB.2.1-11 catches it first
        root = tree.root
        for node in self.path_down(root, target):
            activity = self.act(node)
            if activity.parent is not None and node not in self.avail(activity.parent):
                raise SnException("SB.2.9-2")
            if check_rules(tree, self.st, activity, activity.pre_rules, frozenset({"hiddenFromChoice"})):
                raise SnException("SB.2.9-3")
        t_parent = self.act(target).parent
        if t_parent is not None and not self.act(t_parent).choice:
            raise SnException("SB.2.9-4")  # pragma: no cover - NB.2.1-10 catches it first
        current = self.current
        common = self.common_ancestor(current, target) if current is not None else root
        if current is not None and target == current:
            pass
        elif current is not None and self.act(current).parent == t_parent:
            siblings = self.avail(t_parent)  # type: ignore[arg-type]
            i, j = siblings.index(current), siblings.index(target)
            direction = FORWARD if j > i else BACKWARD
            between = siblings[i : j + 1] if j > i else list(reversed(siblings[j : i + 1]))
            for node in between[:-1]:  # the target itself is not traversed
                self.choice_activity_traversal(node, direction)
        elif current is None or common == current:
            path = self.path_down(common, target)
            for node in path[:-1]:
                self.choice_activity_traversal(node, FORWARD)
            self.check_prevent_activation(path, common)
        elif common == target:
            path = self.tree.path_to_root(current)
            path = path[: path.index(target) + 1]
            for node in path[:-1]:
                if self.ast(node)["active"] and not self.act(node).choice_exit:
                    raise SnException("SB.2.9-7")
        else:
            up = self.tree.path_to_root(current)
            up = up[: up.index(common)]
            constrained: str | None = None
            for node in up:
                # choiceExit binds only while the activity is active (the current SCO's own
                # flag was checked by NB.2.1-8 before it was terminated)
                if self.ast(node)["active"] and not self.act(node).choice_exit:
                    raise SnException("SB.2.9-7")
                # a leaf has no children to constrain: the current SCO's own constrainChoice
                # (from a sequencing collection, ADL CTS CM-07d) does not bind its siblings
                if constrained is None and self.act(node).constrain_choice and not self.act(node).is_leaf:
                    constrained = node
            if constrained is not None:
                direction = FORWARD if tree.index(target) > tree.index(constrained) else BACKWARD
                considered = self.choice_flow_tree_traversal(constrained, direction) or constrained
                if not self.is_descendant(target, considered) and target != constrained and target != considered:
                    raise SnException("SB.2.9-8")
            path = self.path_down(common, target)  # [common, ..., target]
            if tree.index(target) > tree.index(current):
                for node in path[:-1]:  # from the common ancestor, the target excluded
                    self.choice_activity_traversal(node, FORWARD)
            self.check_prevent_activation(path, common)
        if self.act(target).is_leaf:
            return target
        try:
            return self.flow(target, FORWARD, consider_children=True)
        except (SnException, EndSession) as exc:
            raise SnException("SB.2.9-9") from exc
