"""The development LMS's identity and its registration in the tool (demo seed).

The platform itself (a minimal LMS that talks to the tool only over HTTP) is the blueprint of
``lti_tool.devlms.web``; this module holds the values both sides agree on.
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_tool.lti import platforms
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.storage import Database
from sync.lti_claims import ROLE_INSTITUTION, ROLE_MEMBERSHIP, ROLE_SYSTEM

CLIENT_ID = "cbsi-dev-client"
DEPLOYMENT_ID = "dev-deployment-1"
PATH = "/dev/platform"

#: The catalogue course the sample activity opens: the demo course bundled with the tool
#: (``lti_tool/devlms/course``, manifest identifier), imported by ``cbsi-connect demo``.
SAMPLE_COURSE_KEY = "cbsi.demo.evidence-handling"


@dataclass(frozen=True, kw_only=True)
class DevUser:
    """A user of the demo course."""

    key: str
    sub: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    nrps_roles: tuple[str, ...]


USERS: tuple[DevUser, ...] = (
    DevUser(
        key="learner",
        sub="dev-user-ana",
        name="Ana Learner",
        given_name="Ana",
        family_name="Learner",
        email="ana.learner@example.org",
        roles=(ROLE_MEMBERSHIP + "Learner", ROLE_INSTITUTION + "Student"),
        nrps_roles=(ROLE_MEMBERSHIP + "Learner",),
    ),
    DevUser(
        key="instructor",
        sub="dev-user-ian",
        name="Ian Instructor",
        given_name="Ian",
        family_name="Instructor",
        email="ian.instructor@example.org",
        roles=(ROLE_MEMBERSHIP + "Instructor", ROLE_INSTITUTION + "Faculty"),
        nrps_roles=(ROLE_MEMBERSHIP + "Instructor",),
    ),
    DevUser(
        key="admin",
        sub="dev-user-ada",
        name="Ada Admin",
        given_name="Ada",
        family_name="Admin",
        email="ada.admin@example.org",
        roles=(ROLE_INSTITUTION + "Administrator", ROLE_SYSTEM + "Administrator"),
        nrps_roles=(),
    ),
)
USERS_BY_KEY = {u.key: u for u in USERS}
USERS_BY_SUB = {u.sub: u for u in USERS}

#: Simulated learners for load and scale-out tests: ``cohort-1`` … ``cohort-9999`` are learners
#: of the demo course too (not listed on the platform's home page or in its roster).
COHORT_PREFIX = "cohort-"
COHORT_SIZE = 9999


def _cohort_member(number: int) -> DevUser:
    return DevUser(
        key=f"{COHORT_PREFIX}{number}",
        sub=f"dev-cohort-{number}",
        name=f"Learner {number}",
        given_name="Learner",
        family_name=str(number),
        email=f"learner{number}@example.org",
        roles=(ROLE_MEMBERSHIP + "Learner", ROLE_INSTITUTION + "Student"),
        nrps_roles=(ROLE_MEMBERSHIP + "Learner",),
    )


def _cohort_number(text: str) -> int | None:
    if not text.isdecimal() or text.startswith("0") or len(text) > 4:
        return None
    return int(text)


def user_by_key(key: str) -> DevUser | None:
    """A user of the platform by its key (``learner``, ``instructor``, ``admin``, ``cohort-N``)."""
    if key in USERS_BY_KEY:
        return USERS_BY_KEY[key]
    number = _cohort_number(key.removeprefix(COHORT_PREFIX)) if key.startswith(COHORT_PREFIX) else None
    return _cohort_member(number) if number is not None else None


def user_by_sub(sub: str) -> DevUser | None:
    """A user of the platform by the ``sub`` it sends in launches and expects in scores."""
    if sub in USERS_BY_SUB:
        return USERS_BY_SUB[sub]
    prefix = "dev-cohort-"
    number = _cohort_number(sub.removeprefix(prefix)) if sub.startswith(prefix) else None
    return _cohort_member(number) if number is not None else None


COURSE = {"id": "dev-course-1", "label": "DEMO101", "title": "Demo Course"}


def issuer(base_url: str) -> str:
    """The development platform's issuer for a tool served at ``base_url``."""
    return base_url.rstrip("/") + PATH


def ensure_registered(db: Database, base_url: str) -> PlatformInfo:
    """Register the development platform as an active tenant (idempotent)."""
    iss = issuer(base_url)
    return platforms.ensure_builtin_platform(
        db, issuer=iss, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID, name="Development LMS", source="demo"
    )
