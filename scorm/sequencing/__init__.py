"""SCORM 2004 Sequencing & Navigation engine (SN book) for the player server. Pure stdlib.

(The full list of implemented SN processes is filled in below.)
"""

from __future__ import annotations

from scorm.sequencing.cmi_adapter import launch_data, report_cmi_state
from scorm.sequencing.engine import NavResult, begin, choice_validity, navigate
from scorm.sequencing.errors import (
    ALL_ERROR_TYPES,
    InvalidNavigationRequest,
    InvalidPrerequisites,
    InvalidState,
    InvalidTrackingValue,
    NotALeaf,
    SequencingError,
    UnknownActivity,
)
from scorm.sequencing.messages import LEARNER_MESSAGES, SN_MEANING, learner_message
from scorm.sequencing.prereq12 import (
    evaluate_prerequisites,
    parse_prerequisites,
    referenced_items,
)
from scorm.sequencing.requests import NavRequest, parse_nav_request
from scorm.sequencing.toc import (
    nav_state,
    request_is_valid,
    request_valid_value,
    toc,
    valid_requests,
)
from scorm.sequencing.tracking import STATE_VERSION, new_state, report_sco_outcome
from scorm.sequencing.tree import Activity, ActivityTree, build_tree

__all__ = [
    "ALL_ERROR_TYPES",
    "LEARNER_MESSAGES",
    "SN_MEANING",
    "STATE_VERSION",
    "Activity",
    "ActivityTree",
    "InvalidNavigationRequest",
    "InvalidPrerequisites",
    "InvalidState",
    "InvalidTrackingValue",
    "NavRequest",
    "NavResult",
    "NotALeaf",
    "SequencingError",
    "UnknownActivity",
    "begin",
    "build_tree",
    "choice_validity",
    "evaluate_prerequisites",
    "launch_data",
    "learner_message",
    "nav_state",
    "navigate",
    "new_state",
    "parse_nav_request",
    "parse_prerequisites",
    "referenced_items",
    "report_cmi_state",
    "report_sco_outcome",
    "request_is_valid",
    "request_valid_value",
    "toc",
    "valid_requests",
]
