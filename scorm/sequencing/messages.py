"""SN exception codes (SN book Appendix C) and the plain words shown to learners.

``SN_MEANING`` is the technical meaning (for logs and admins); ``LEARNER_MESSAGES`` is what the
player shows. Every code the engine can return is in both tables (a test checks it).

The learner's words are gettext message ids (``N_``, extracted through ``babel.cfg``): the web
layer shows them in the learner's language. ``SN_MEANING`` is spec data for logs, not translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from scorm.messages import N_

SN_MEANING: Final[Mapping[str, str]] = {
    # NB.2.1 Navigation Request Process
    "NB.2.1-1": "Current activity is already defined / sequencing session has already begun",
    "NB.2.1-2": "Current activity is not defined / sequencing session has not begun",
    "NB.2.1-3": "Suspended activity is not defined",
    "NB.2.1-4": "Flow sequencing control mode violation",
    "NB.2.1-5": "Flow or forward only sequencing control mode violation",
    "NB.2.1-6": "No activity is previous to the root",
    "NB.2.1-8": "Choice exit sequencing control mode violation",
    "NB.2.1-10": "Choice sequencing control mode violation",
    "NB.2.1-11": "Target activity does not exist",
    "NB.2.1-12": "Current activity already terminated",
    "NB.2.1-13": "Undefined navigation request",
    # TB.2.3 Termination Request Process
    "TB.2.3-1": "Current activity is not defined / sequencing session has not begun",
    "TB.2.3-2": "Current activity already terminated",
    "TB.2.3-3": "Cannot suspend an inactive root",
    "TB.2.3-4": "Activity tree root has no parent",
    "TB.2.3-7": "Undefined termination request",
    # SB.2.x Sequencing Request Process and subprocesses
    "SB.2.1-2": "Cluster has no available children",
    "SB.2.1-3": "No activity is previous to the root",
    "SB.2.1-4": "Forward only sequencing control mode violation",
    "SB.2.2-1": "Flow sequencing control mode violation",
    "SB.2.2-2": "Activity unavailable (disabled or limit condition violated)",
    "SB.2.4-1": "Forward traversal blocked (stopForwardTraversal)",
    "SB.2.4-2": "Forward only sequencing control mode violation",
    "SB.2.4-3": "No activity is previous to the root",
    "SB.2.5-1": "Current activity is defined / sequencing session already begun",
    "SB.2.6-1": "Current activity is defined / sequencing session already begun",
    "SB.2.6-2": "No suspended activity defined",
    "SB.2.7-1": "Current activity is not defined / sequencing session has not begun",
    "SB.2.7-2": "Flow sequencing control mode violation",
    "SB.2.8-1": "Current activity is not defined / sequencing session has not begun",
    "SB.2.8-2": "Flow sequencing control mode violation",
    "SB.2.9-1": "No target for choice",
    "SB.2.9-2": "Target activity does not exist or is unavailable",
    "SB.2.9-3": "Target activity hidden from choice",
    "SB.2.9-4": "Choice sequencing control mode violation",
    "SB.2.9-6": "Unable to activate target; target is not a child of the current activity",
    "SB.2.9-7": "Choice exit sequencing control mode violation",
    "SB.2.9-8": "Unable to choose target activity - constrained choice",
    "SB.2.9-9": "Choice request prevented: nothing to deliver in the target cluster",
    "SB.2.10-1": "Current activity is not defined / sequencing session has not begun",
    "SB.2.10-2": "Current activity is active or suspended",
    "SB.2.10-3": "Flow sequencing control mode violation",
    "SB.2.11-1": "Current activity is not defined / sequencing session has not begun",
    "SB.2.11-2": "Current activity has not been terminated",
    "SB.2.12-1": "Undefined sequencing request",
    "SB.2.13-1": "Current activity is not defined / sequencing session has not begun",
    # DB.1.1 Delivery Request Process, DB.2 Content Delivery Environment Process
    "DB.1.1-1": "Cannot deliver a non-leaf activity",
    "DB.1.1-3": "Target activity unavailable (disabled or limit condition violated)",
    "DB.2-1": "Identified activity is already active",
}

LEARNER_MESSAGES: Final[Mapping[str, str]] = {
    "NB.2.1-1": N_("The course is already open."),
    "NB.2.1-2": N_("The course has not started yet."),
    "NB.2.1-3": N_("There is no saved place to resume from."),
    "NB.2.1-4": N_("This course does not let you move on with Continue here; use the menu."),
    "NB.2.1-5": N_("This course does not let you go back here."),
    "NB.2.1-6": N_("You are at the beginning of the course."),
    "NB.2.1-8": N_("Please finish this section before leaving it."),
    "NB.2.1-10": N_("This part of the course cannot be chosen from the menu."),
    "NB.2.1-11": N_("That part of the course could not be found."),
    "NB.2.1-12": N_("This section has already been closed."),
    "NB.2.1-13": N_("That navigation request is not understood."),
    "TB.2.3-1": N_("The course has not started yet."),
    "TB.2.3-2": N_("This section has already been closed."),
    "TB.2.3-3": N_("There is nothing to save for later yet."),
    "TB.2.3-4": N_("You are already at the top of the course."),
    "TB.2.3-7": N_("That navigation request is not understood."),
    "SB.2.1-2": N_("This section has nothing in it to show."),
    "SB.2.1-3": N_("You are at the beginning of the course."),
    "SB.2.1-4": N_("This course does not let you go back here."),
    "SB.2.2-1": N_("This section must be entered from the menu."),
    "SB.2.2-2": N_("The next section is locked until you complete the previous one."),
    "SB.2.4-1": N_("You cannot skip ahead past a section you have not finished."),
    "SB.2.4-2": N_("This course does not let you go back to earlier sections."),
    "SB.2.4-3": N_("You are at the beginning of the course."),
    "SB.2.5-1": N_("The course is already open."),
    "SB.2.6-1": N_("The course is already open."),
    "SB.2.6-2": N_("There is no saved place to resume from."),
    "SB.2.7-1": N_("The course has not started yet."),
    "SB.2.7-2": N_("This course does not let you move on with Continue here; use the menu."),
    "SB.2.8-1": N_("The course has not started yet."),
    "SB.2.8-2": N_("This course does not let you go back here."),
    "SB.2.9-1": N_("Please choose a section."),
    "SB.2.9-2": N_("That section is not part of this attempt."),
    "SB.2.9-3": N_("That section cannot be opened from the menu."),
    "SB.2.9-4": N_("That section cannot be opened from the menu; use Continue."),
    "SB.2.9-6": N_("That section only opens from within its own part of the course."),
    "SB.2.9-7": N_("Please finish this part of the course before leaving it."),
    "SB.2.9-8": N_("You can only go to the next or previous section from here."),
    "SB.2.9-9": N_("That section has nothing you can open right now."),
    "SB.2.10-1": N_("The course has not started yet."),
    "SB.2.10-2": N_("This section is still open."),
    "SB.2.10-3": N_("This section cannot be restarted."),
    "SB.2.11-1": N_("The course has not started yet."),
    "SB.2.11-2": N_("This section is still open."),
    "SB.2.12-1": N_("That navigation request is not understood."),
    "SB.2.13-1": N_("The course has not started yet."),
    "DB.1.1-1": N_("Please choose a lesson inside this section."),
    "DB.1.1-3": N_("This section is locked until you complete the previous one."),
    "DB.2-1": N_("This section is already open."),
}

# Codes the engine keeps for completeness but cannot reach through :func:`navigate`, because an
# earlier step of the same request already refuses it (e.g. SB.2.5-1 after NB.2.1-1) or the
# request parser rejects the input first (NB.2.1-13).
DEFENSIVE_CODES: Final = frozenset(
    {
        "NB.2.1-6",
        "NB.2.1-13",
        "TB.2.3-1",
        "TB.2.3-2",
        "TB.2.3-3",
        "TB.2.3-7",
        "SB.2.4-3",
        "SB.2.5-1",
        "SB.2.6-1",
        "SB.2.6-2",
        "SB.2.7-1",
        "SB.2.8-1",
        "SB.2.9-1",
        "SB.2.9-4",
        "SB.2.10-1",
        "SB.2.11-1",
        "SB.2.11-2",
        "SB.2.12-1",
        "SB.2.13-1",
        "DB.2-1",
    }
)

END_MESSAGE: Final = N_("You have reached the end of the course.")
NOTHING_TO_DELIVER: Final = N_("Choose where to go next from the course menu.")
NOT_POSSIBLE: Final = N_("That is not possible right now.")


def learner_message(code: str) -> str:
    """Plain words for an SN exception code (a generic sentence for an unknown code)."""
    return LEARNER_MESSAGES.get(code, NOT_POSSIBLE)
