"""Attempts: open or resume a learner's attempt, and the player's view of it.

The launch's path (:func:`open_and_start`) is one transaction: find or create the registration,
resume the attempt or start the next one (per the attempt policy), begin sequencing, and start
the current item's session (``lti_tool.runtime.sessions``).
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lti_tool.catalogue import find_course
from lti_tool.lti.context import Launch
from lti_tool.runtime import learner_store, store
from lti_tool.runtime.deliveries import deliveries
from lti_tool.runtime.errors import AttemptLimitReached, AttemptNotFound, CourseNotLinked, CourseUnavailable
from lti_tool.runtime.sessions import ItemSession, start_current
from lti_tool.runtime.structure import ASSET, PlayerItem, activity_tree, player_items
from lti_tool.services import Services
from lti_tool.storage import courses as course_store
from lti_tool.storage import learners
from lti_tool.storage.models import AttemptStatus, utcnow
from scorm import sequencing
from scorm.outcome import Completion

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, Course, CourseVersion, LearnerRegistration


@dataclass(frozen=True, kw_only=True)
class OpenedAttempt:
    """What a launch opened: the attempt and what the player shows."""

    attempt_id: str
    number: int
    registration_id: int
    version_id: int
    course_title: str
    standard: str
    cmi_version: str
    items: tuple[PlayerItem, ...]
    current_item: str | None
    resumed: bool
    is_learner: bool
    toc: tuple[dict[str, Any], ...] = ()
    # {"previous": bool, "continue": bool (sequencing: valid now), "hide": [hideLMSUI] (when any)}
    nav: dict[str, Any] = dataclasses.field(default_factory=dict)
    message: str | None = None


def course_reference(launch: Launch) -> str:
    """The catalogue course a resource link points to (custom ``course`` from deep linking).

    Raises:
        CourseNotLinked: the link carries no course.
    """
    ident = launch.custom.get("course") if launch.custom else None
    if ident is None or str(ident).strip() == "":
        raise CourseNotLinked()
    return str(ident).strip()


def _registration(s: Session, launch: Launch, course: Course) -> tuple[LearnerRegistration, bool]:
    """The learner's registration on the launch's resource link, and whether it is new (flushed: it has its id)."""
    if not launch.sub or not launch.resource_link_id:
        raise CourseNotLinked("this launch has no user or resource link; relaunch from the course page")
    ags = dict(launch.ags)
    values: dict[str, Any] = {
        "context_id": launch.context_id,
        "context_title": launch.context_title,
        "resource_link_title": launch.resource_link_title,
        "name": launch.name,
        "email": launch.email,
        "is_learner": launch.is_learner,
        "course_id": course.id,
    }
    if ags:
        values["ags"] = ags
    return _upsert_registration(
        s, platform_id=launch.platform_id, deployment_id=launch.deployment_id,
        resource_link_id=launch.resource_link_id, learner_sub=launch.sub, ags=ags, values=values,
    )  # fmt: skip


def _upsert_registration(
    s: Session,
    *,
    platform_id: int,
    deployment_id: str,
    resource_link_id: str,
    learner_sub: str,
    ags: dict[str, Any],
    values: dict[str, Any],
) -> tuple[LearnerRegistration, bool]:
    """Find or make the learner's registration on a resource link and give it ``values`` (an empty
    name or e-mail address keeps the stored one); whether it is new (flushed: it has its id)."""
    reg = store.registration(
        s, platform_id=platform_id, deployment_id=deployment_id, resource_link_id=resource_link_id,
        learner_sub=learner_sub,
    )  # fmt: skip
    created = reg is None
    if reg is None:
        reg = learners.new_registration(
            platform_id=platform_id, deployment_id=deployment_id, resource_link_id=resource_link_id,
            learner_sub=learner_sub, course_id=values["course_id"], ags=ags,
        )  # fmt: skip
        s.add(reg)
    for field in ("name", "email"):
        if field in values and not values[field]:
            values = {**values, field: getattr(reg, field)}
    store.assign(reg, values)
    if created:
        s.flush()  # its id: the attempt refers to it
    return reg, created


@dataclass(frozen=True, kw_only=True)
class _Opened:
    """What :func:`_open_attempt` opened, with the rows a session start in the same transaction needs."""

    view: OpenedAttempt
    attempt: Attempt
    version: CourseVersion
    created: bool  # a new attempt: it has no SCO states yet


def open_attempt(services: Services, launch: Launch) -> OpenedAttempt:
    """Resume the learner's open attempt or start a new one, per the attempt policy.

    Policy ``resume`` (default): the newest attempt is resumed until its outcome is completed;
    then a new attempt starts. Policy ``new``: every launch starts a new attempt. A new attempt
    always plays the newest version of the course; running attempts stay on their version.

    Raises:
        CourseNotLinked, CourseUnavailable, StandardNotPlayable, AttemptLimitReached.
    """
    ident = course_reference(launch)
    with services.db.session() as s:
        return _open_attempt(s, services, launch, ident).view


def open_and_start(
    services: Services, launch: Launch, *, learner_id: str, learner_name: str
) -> tuple[OpenedAttempt, ItemSession | None]:
    """:func:`open_attempt`, then :func:`start_item_session` of its current item, in one transaction.

    The player page's path: one unit of work instead of two, and nothing read twice. The session
    is ``None`` when the attempt has no current item (or it is not a launchable item).

    Raises:
        CourseNotLinked, CourseUnavailable, StandardNotPlayable, AttemptLimitReached.
    """
    ident = course_reference(launch)
    with services.db.session() as s:
        opened = _open_attempt(s, services, launch, ident)
        return opened.view, start_current(
            s,
            services,
            opened.attempt,
            opened.version,
            learner_id=learner_id,
            learner_name=learner_name,
            fresh=opened.created,
        )


def _open_attempt(s: Session, services: Services, launch: Launch, ident: str) -> _Opened:
    course = find_course(s, ident)
    newest = store.newest_version(s, course.id) if course is not None else None
    if course is None or newest is None:
        raise CourseUnavailable()
    deliveries(services).for_course(newest.standard)  # StandardNotPlayable before anything is written
    reg, new_registration = _registration(s, launch, course)
    return _open_for(s, services, course, reg, new_registration, newest)


def _open_for(
    s: Session,
    services: Services,
    course: Course,
    reg: LearnerRegistration,
    new_registration: bool,
    newest: CourseVersion,
) -> _Opened:
    """Resume or start the attempt of a registration (the seam every entry shares: an LTI launch,
    an operator preview), on ``newest`` when a new attempt starts."""
    # a registration made just now has no attempts
    last = None if new_registration else store.last_attempt(s, reg.id)
    attempt, resume = _resume_or_next(s, services, course, reg, last, newest)
    version = (
        newest if attempt.course_version_id == newest.id else course_store.version_by_id(s, attempt.course_version_id)
    )
    if version is None:  # pragma: no cover - FK
        raise CourseUnavailable()
    tree = activity_tree(services, version)
    message = None
    if tree is not None:
        carried = None if attempt.sequencing else learner_store.globals_for(s, reg, tree)
        state = attempt.sequencing or sequencing.new_state(tree, seed=secrets.randbits(31), globals_=carried)
        result = sequencing.begin(tree, state)
        store.assign(attempt, {"sequencing": dict(result.state), "current_item": result.deliver})
        learner_store.save_globals(s, attempt, tree)
        message = result.message if result.deliver is None else None
    if not resume:
        # added once complete, so one INSERT carries its sequencing state; flushed before any SCO
        # state row of it (the unit of work orders unrelated mappers by name, not by foreign key)
        s.add(attempt)
        s.flush()
    view = opened_view(services, attempt, version, course.title, reg, resumed=resume, message=message)
    return _Opened(view=view, attempt=attempt, version=version, created=not resume)


def _resume_or_next(
    s: Session,
    services: Services,
    course: Course,
    reg: LearnerRegistration,
    last: Attempt | None,
    newest: CourseVersion,
) -> tuple[Attempt, bool]:
    """The attempt this launch plays, and whether it is resumed (else new, not yet added).

    Raises:
        AttemptLimitReached: a new attempt would exceed ``player.max_attempts``.
    """
    settings = services.settings.player
    policy = course.attempt_policy or settings.attempt_policy
    # A completed attempt the learner suspended (Exit, suspendAll, cmi.exit=suspend) is resumed,
    # not replaced: the relaunch must give back the bookmark (issue 13 item 7).
    finished = (
        last is not None and last.outcome.get("completion") == Completion.COMPLETED.value and not _suspended(s, last)
    )
    if last is not None and last.status == AttemptStatus.ACTIVE and policy == "resume" and not finished:
        return last, True
    number = (last.number + 1) if last else 1
    if settings.max_attempts and number > settings.max_attempts:
        raise AttemptLimitReached(f"you have used all {settings.max_attempts} attempts this activity allows")
    if last is not None and last.status == AttemptStatus.ACTIVE:
        last.status = AttemptStatus.COMPLETED.value if finished else AttemptStatus.ABANDONED.value
        last.completed_at = utcnow()
    attempt = learners.new_attempt(
        id=uuid.uuid4().hex,
        registration_id=reg.id,
        number=number,
        course_version_id=newest.id,
        status=AttemptStatus.ACTIVE.value,
        sequencing={},
        outcome={},
    )
    return attempt, False


def _suspended(s: Session, attempt: Attempt) -> bool:
    """Whether the learner left ``attempt`` suspended, to come back to it.

    Sequencing holds a suspended activity (suspendAll: the player's Exit, or the SCO's request),
    or the item on screen last ended its session with ``exit=suspend`` (a single-SCO course has
    no navigation requests).
    """
    if (attempt.sequencing or {}).get("suspended") is not None:
        return True
    if not attempt.current_item:
        return False
    row = learners.sco_state(s, attempt.id, attempt.current_item)
    if row is None or not row.state or row.cmi_version == ASSET:
        return False
    values = row.state.get("values") or {}
    return values.get("cmi.exit", values.get("cmi.core.exit")) == "suspend"


def opened_view(
    services: Services,
    attempt: Attempt,
    version: CourseVersion,
    title: str,
    reg: LearnerRegistration,
    *,
    resumed: bool,
    message: str | None = None,
) -> OpenedAttempt:
    """The player's view of an attempt as it stands in the caller's transaction (menu and buttons)."""
    items = player_items(version)
    tree = activity_tree(services, version)
    current = attempt.current_item
    nav: dict[str, Any]
    if tree is not None and attempt.sequencing:
        toc = tuple(sequencing.toc(tree, attempt.sequencing))
        nav = dict(sequencing.nav_state(tree, attempt.sequencing, current))
        refused = sequencing.continue_refusal(tree, attempt.sequencing) if nav["continue"] else None
        if refused:
            nav["continue_refused"] = refused  # valid by NB.2.1, refused by the flow: say so, keep the SCO
        # adl.nav.request_valid.jump in the browser (choice reads the menu rows' "disabled")
        nav["jump"] = sequencing.jump_targets(tree, attempt.sequencing)
        hide = tree.activities[current].hide_lms_ui if current in tree.activities else ()
        if hide:
            nav["hide"] = list(hide)  # adlnav:hideLMSUI of the delivered SCO (CAM 4th)
    else:
        toc = tuple(
            {"id": i.id, "title": i.title, "kind": i.kind, "depth": 0, "visible": i.visible, "disabled": False,
             "completed": False, "url": i.url}
            for i in items
        )  # fmt: skip
        nav = {"previous": False, "continue": False}
    delivery = deliveries(services).for_course(version.standard)
    return OpenedAttempt(
        attempt_id=attempt.id,
        number=attempt.number,
        registration_id=reg.id,
        version_id=version.id,
        course_title=title,
        standard=version.standard,
        cmi_version=delivery.runtime or "1.2",
        items=items,
        current_item=current,
        resumed=resumed,
        is_learner=reg.is_learner,
        toc=toc,
        nav=nav,
        message=message,
    )


@dataclass(frozen=True, kw_only=True)
class Enrolment:
    """A learner who opens an attempt without an LTI launch (the operator preview's entry):
    the registration's tenant, activity and learner, as a launch would give them."""

    platform_id: int
    deployment_id: str
    resource_link_id: str
    resource_link_title: str
    context_id: str
    context_title: str
    learner_sub: str
    name: str


def open_enrolled_and_start(
    services: Services,
    enrolment: Enrolment,
    *,
    version_id: int,
    learner_id: str,
    item_id: str | None = None,
) -> tuple[OpenedAttempt, ItemSession | None]:
    """:func:`open_and_start` for an :class:`Enrolment`: the registration is found or made from it
    (no AGS claim: nothing is ever sent to a gradebook), a new attempt plays ``version_id``.

    ``item_id``: the item to start at instead of the course's first (cmi5: the AU to launch).

    Raises:
        CourseUnavailable, StandardNotPlayable, AttemptLimitReached, ItemNotFound.
    """
    from lti_tool.runtime.errors import ItemNotFound

    with services.db.session() as s:
        version = course_store.version_by_id(s, version_id)
        if version is None:
            raise CourseUnavailable()
        course = version.course
        deliveries(services).for_course(version.standard)
        reg, created = _upsert_registration(
            s, platform_id=enrolment.platform_id, deployment_id=enrolment.deployment_id,
            resource_link_id=enrolment.resource_link_id, learner_sub=enrolment.learner_sub, ags={},
            values={
                "context_id": enrolment.context_id, "context_title": enrolment.context_title,
                "resource_link_title": enrolment.resource_link_title, "name": enrolment.name,
                "is_learner": True, "course_id": course.id,
            },
        )  # fmt: skip
        opened = _open_for(s, services, course, reg, created, version)
        view = opened.view
        if item_id is not None:
            if all(item.id != item_id for item in view.items):
                raise ItemNotFound(f"this course has no item {item_id!r}")
            opened.attempt.current_item = item_id
            view = dataclasses.replace(view, current_item=item_id)
        session = start_current(
            s, services, opened.attempt, opened.version, learner_id=learner_id, learner_name=enrolment.name,
            fresh=opened.created,
        )  # fmt: skip
        return view, session


def reopened_view(s: Session, services: Services, attempt: Attempt, version: CourseVersion) -> OpenedAttempt:
    """:func:`opened_view` of an attempt already running (its registration read in ``s``)."""
    reg = learners.registration_by_id(s, attempt.registration_id)
    if reg is None:  # pragma: no cover - FK
        raise AttemptNotFound()
    return opened_view(services, attempt, version, version.course.title, reg, resumed=True)


def reopen_attempt(services: Services, attempt_id: str) -> OpenedAttempt:
    """The player view of an existing active attempt (new window, navigation).

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    with services.db.session() as s:
        attempt, version = store.active_attempt(s, attempt_id)
        return reopened_view(s, services, attempt, version)


def reopen_and_start(
    services: Services, attempt_id: str, *, learner_id: str
) -> tuple[OpenedAttempt, ItemSession | None]:
    """:func:`reopen_attempt`, then :func:`start_item_session` of its current item, in one transaction.

    The new-window player's path; the SCO gets the learner's name from their registration.

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    with services.db.session() as s:
        attempt, version = store.active_attempt(s, attempt_id)
        view = reopened_view(s, services, attempt, version)
        return view, start_current(s, services, attempt, version, learner_id=learner_id, learner_name=None)
