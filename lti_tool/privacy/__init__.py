"""Data lifecycle: export an academy's learner records, erase one learner on request; both audited.

Every table that holds data about a learner is ONE entry of :data:`LEARNER_TABLES`. Erasure walks
that list in order (children before parents) inside one transaction; a feature that adds a table
with learner data adds one :class:`LearnerTable` entry here (the built-in LRS: its statements and
state tables). ``tests/privacy`` fails when a table with a learner column is neither in the
registry nor in :data:`NOT_LEARNER_DATA` with the reason.

A learner is identified by (platform, ``sub``): the same ``sub`` on two platforms is two people.

The package: :mod:`~lti_tool.privacy.registry` (the inventory, errors and lookups),
:mod:`~lti_tool.privacy.erasure` and :mod:`~lti_tool.privacy.export`. Callers import from here.
"""

from lti_tool.privacy.erasure import ErasureReport, erase_learner, plan_erasure
from lti_tool.privacy.export import EXPORT_PAGE, ExportReport, export_learners, iter_records, write_records
from lti_tool.privacy.registry import (
    ACTION_ERASE,
    ACTION_EXPORT,
    LEARNER_TABLES,
    MAX_SUB_LENGTH,
    NOT_LEARNER_DATA,
    UNDELIVERED,
    InvalidLearner,
    Learner,
    LearnerTable,
    PrivacyError,
    UnknownLearner,
    UnknownPlatform,
    registry_tables,
)

__all__ = [
    "ACTION_ERASE",
    "ACTION_EXPORT",
    "EXPORT_PAGE",
    "LEARNER_TABLES",
    "MAX_SUB_LENGTH",
    "NOT_LEARNER_DATA",
    "UNDELIVERED",
    "ErasureReport",
    "ExportReport",
    "InvalidLearner",
    "Learner",
    "LearnerTable",
    "PrivacyError",
    "UnknownLearner",
    "UnknownPlatform",
    "erase_learner",
    "export_learners",
    "iter_records",
    "plan_erasure",
    "registry_tables",
    "write_records",
]
