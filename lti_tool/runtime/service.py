"""Attempts and commits: the server side of the SCORM runtime (DESIGN.md §3, §5.5, §5.6).

Pure of Flask: the web layer authenticates the request and calls these functions. Each commit
is one transaction: re-validate the values (``scorm.cmi.apply_commit``), store the SCO's state
document, roll the attempt's outcome up, and — when the outcome changed — call the
``outcome_changed`` hooks (the grade outbox) inside that same transaction.

Concurrency: a commit is applied with a conditional ``UPDATE ... WHERE seq = <seq read>``, so
two commits racing for one SCO can never both win; the loser gets ``stale_seq`` (409) and the
browser resends with the next number. That works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from lti_tool.catalogue import find_course
from lti_tool.course_structure import version_structure
from lti_tool.lti.context import Launch
from lti_tool.runtime.errors import (
    AttemptClosed,
    AttemptLimitReached,
    AttemptNotFound,
    CourseNotLinked,
    CourseUnavailable,
    InvalidCommit,
    ItemNotFound,
    StaleCommit,
    StandardNotPlayable,
)
from lti_tool.services import Services
from lti_tool.storage.models import (
    Attempt,
    Course,
    CourseVersion,
    LearnerRegistration,
    ScoState,
    utcnow,
)
from scorm import sequencing
from scorm.cmi import (
    Completion,
    Outcome,
    Success,
    apply_commit,
    attempt_continues,
    finish_session,
    initial_state,
    outcome_from_state,
    rollup_outcomes,
)
from scorm.packaging.scorm_manifest import Item

logger = logging.getLogger(__name__)

CMI_VERSION = {"scorm12": "1.2", "scorm2004": "2004"}
ASSET = "asset"
MAX_CHANGES = 5000
DEFAULT_LEARNER_NAME = "Learner"  # cmi learner name when the LMS sent none (a launch without PII)


@dataclass(frozen=True, kw_only=True)
class PlayerItem:
    """One launchable item of the attempt's course version, in course order."""

    id: str
    title: str
    url: str
    kind: str
    visible: bool


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


@dataclass(frozen=True, kw_only=True)
class ItemSession:
    """The runtime data a SCO session starts with."""

    item_id: str
    cmi_version: str
    state: dict[str, Any]
    seq: int
    kind: str
    last_commit_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CommitReply:
    """What the commit endpoint answers."""

    seq: int
    stored: int
    rejected: tuple[dict[str, Any], ...]
    outcome: dict[str, Any]
    attempt_outcome: dict[str, Any]
    replayed: bool = False
    sequencing_changed: bool = False  # the SCO's data reached sequencing: the menu may change


# -- course and manifest ---------------------------------------------------------------------


def course_reference(launch: Launch) -> str:
    """The catalogue course a resource link points to (custom ``course`` from deep linking).

    Raises:
        CourseNotLinked: the link carries no course.
    """
    ident = launch.custom.get("course") if launch.custom else None
    if ident is None or str(ident).strip() == "":
        raise CourseNotLinked()
    return str(ident).strip()


def manifest_items(services: Services, version: CourseVersion) -> dict[str, Item]:
    """The manifest's items by identifier (parsed once per process and package checksum)."""
    return version_structure(services.settings.content_path, version).items


def activity_tree(services: Services, version: CourseVersion) -> sequencing.ActivityTree | None:
    """The sequencing activity tree of a SCORM version (built once per process and version)."""
    return version_structure(services.settings.content_path, version).tree


_PLAYER_ITEMS: dict[str, tuple[PlayerItem, ...]] = {}


def player_items(version: CourseVersion) -> tuple[PlayerItem, ...]:
    """Launchable items of a version, in course order (cached per process and package checksum)."""
    found = _PLAYER_ITEMS.get(version.sha256)
    if found is None:
        found = _player_items(version)
        _PLAYER_ITEMS[version.sha256] = found
    return found


def _player_items(version: CourseVersion) -> tuple[PlayerItem, ...]:
    return tuple(
        PlayerItem(
            id=str(entry["identifier"]),
            title=str(entry["title"]),
            url=str(entry["launch_url"]),
            kind=ASSET if entry["kind"] == ASSET else "sco",
            visible=bool(entry.get("visible", True)),
        )
        for entry in version.structure.get("launchables", [])
    )


# -- attempts --------------------------------------------------------------------------------


_REGISTRATION = select(LearnerRegistration).where(
    LearnerRegistration.platform_id == bindparam("platform_id"),
    LearnerRegistration.deployment_id == bindparam("deployment_id"),
    LearnerRegistration.resource_link_id == bindparam("resource_link_id"),
    LearnerRegistration.learner_sub == bindparam("learner_sub"),
)
_NEWEST_VERSION = (
    select(CourseVersion)
    .where(CourseVersion.course_id == bindparam("course_id"))
    .order_by(CourseVersion.version.desc())
    .limit(1)
)
_LAST_ATTEMPT = (
    select(Attempt)
    .where(Attempt.registration_id == bindparam("registration_id"))
    .order_by(Attempt.number.desc())
    .limit(1)
)


def _assign(row: Any, values: Mapping[str, Any]) -> None:
    """Set the attributes whose value differs: equal values would mark the row dirty for nothing.

    The UPDATE is the same either way (none for equal values); a clean row just costs its
    transaction's flushes nothing.
    """
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)


def _registration(s: Session, launch: Launch, course: Course) -> tuple[LearnerRegistration, bool]:
    """The learner's registration on the launch's resource link, and whether it is new (flushed: it has its id)."""
    if not launch.sub or not launch.resource_link_id:
        raise CourseNotLinked("this launch has no user or resource link; relaunch from the course page")
    reg = s.scalars(
        _REGISTRATION,
        {
            "platform_id": launch.platform_id,
            "deployment_id": launch.deployment_id,
            "resource_link_id": launch.resource_link_id,
            "learner_sub": launch.sub,
        },
    ).first()
    ags = dict(launch.ags)
    created = reg is None
    if reg is None:
        reg = LearnerRegistration(
            platform_id=launch.platform_id,
            deployment_id=launch.deployment_id,
            resource_link_id=launch.resource_link_id,
            learner_sub=launch.sub,
            course_id=course.id,
            ags=ags,
        )
        s.add(reg)
    values: dict[str, Any] = {
        "context_id": launch.context_id,
        "context_title": launch.context_title,
        "resource_link_title": launch.resource_link_title,
        "name": launch.name or reg.name,
        "email": launch.email or reg.email,
        "is_learner": launch.is_learner,
        "course_id": course.id,
    }
    if ags:
        values["ags"] = ags
    _assign(reg, values)
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
        return opened.view, _start_current(
            s,
            services,
            opened.view,
            opened.attempt,
            opened.version,
            learner_id=learner_id,
            learner_name=learner_name,
            fresh=opened.created,
        )


def _open_attempt(s: Session, services: Services, launch: Launch, ident: str) -> _Opened:
    settings = services.settings.player
    course = find_course(s, ident)
    newest = s.scalars(_NEWEST_VERSION, {"course_id": course.id}).first() if course is not None else None
    if course is None or newest is None:
        raise CourseUnavailable()
    if newest.standard not in CMI_VERSION:
        raise StandardNotPlayable(
            f"this course is {newest.standard}; the player plays SCORM 1.2 and SCORM 2004 packages"
        )
    reg, new_registration = _registration(s, launch, course)
    # a registration made just now has no attempts
    last = None if new_registration else s.scalars(_LAST_ATTEMPT, {"registration_id": reg.id}).first()
    policy = course.attempt_policy or settings.attempt_policy
    # A completed attempt the learner suspended (Exit, suspendAll, cmi.exit=suspend) is resumed,
    # not replaced: the relaunch must give back the bookmark (issue 13 item 7).
    finished = (
        last is not None and last.outcome.get("completion") == Completion.COMPLETED.value and not _suspended(s, last)
    )
    resume = last is not None and last.status == "active" and policy == "resume" and not finished
    if resume and last is not None:
        attempt = last
    else:
        number = (last.number + 1) if last else 1
        if settings.max_attempts and number > settings.max_attempts:
            raise AttemptLimitReached(f"you have used all {settings.max_attempts} attempts this activity allows")
        if last is not None and last.status == "active":
            last.status = "completed" if finished else "abandoned"
            last.completed_at = utcnow()
        attempt = Attempt(
            id=uuid.uuid4().hex,
            registration_id=reg.id,
            number=number,
            course_version_id=newest.id,
            status="active",
            sequencing={},
            outcome={},
        )
    version = newest if attempt.course_version_id == newest.id else s.get(CourseVersion, attempt.course_version_id)
    if version is None:  # pragma: no cover - FK
        raise CourseUnavailable()
    tree = activity_tree(services, version)
    message = None
    if tree is not None:
        state = attempt.sequencing or sequencing.new_state(tree, seed=secrets.randbits(31))
        result = sequencing.begin(tree, state)
        _assign(attempt, {"sequencing": dict(result.state), "current_item": result.deliver})
        message = result.message if result.deliver is None else None
    if not resume:
        # added once complete, so one INSERT carries its sequencing state; flushed before any SCO
        # state row of it (the unit of work orders unrelated mappers by name, not by foreign key)
        s.add(attempt)
        s.flush()
    view = _opened(services, attempt, version, course.title, reg, resumed=resume, message=message)
    return _Opened(view=view, attempt=attempt, version=version, created=not resume)


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
    row = s.get(ScoState, (attempt.id, attempt.current_item))
    if row is None or not row.state or row.cmi_version == ASSET:
        return False
    values = row.state.get("values") or {}
    return values.get("cmi.exit", values.get("cmi.core.exit")) == "suspend"


def _opened(
    services: Services,
    attempt: Attempt,
    version: CourseVersion,
    title: str,
    reg: LearnerRegistration,
    *,
    resumed: bool,
    message: str | None = None,
) -> OpenedAttempt:
    items = player_items(version)
    tree = activity_tree(services, version)
    current = attempt.current_item
    nav: dict[str, Any]
    if tree is not None and attempt.sequencing:
        toc = tuple(sequencing.toc(tree, attempt.sequencing))
        nav = dict(sequencing.nav_state(tree, attempt.sequencing, current))
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
    return OpenedAttempt(
        attempt_id=attempt.id,
        number=attempt.number,
        registration_id=reg.id,
        version_id=version.id,
        course_title=title,
        standard=version.standard,
        cmi_version=CMI_VERSION.get(version.standard, "1.2"),
        items=items,
        current_item=current,
        resumed=resumed,
        is_learner=reg.is_learner,
        toc=toc,
        nav=nav,
        message=message,
    )


def _initial_kwargs(item: Item | None, cmi_version: str) -> dict[str, Any]:
    if item is None:
        return {}
    kwargs: dict[str, Any] = {"launch_data": item.data_from_lms, "time_limit_action": item.time_limit_action}
    if cmi_version == "1.2":
        kwargs["mastery_score"] = item.mastery_score
        kwargs["max_time_allowed"] = item.max_time_allowed
        return kwargs
    seq = item.sequencing
    if seq is not None:
        primary = seq.objectives.primary
        if primary is not None and primary.satisfied_by_measure:
            kwargs["scaled_passing_score"] = primary.min_normalized_measure
        kwargs["objective_ids"] = tuple(o.objective_id for o in seq.objectives.all() if o.objective_id)
        kwargs["max_time_allowed"] = seq.limit_conditions.attempt_absolute_duration_limit
    threshold = item.completion_threshold
    if threshold is not None and threshold.completed_by_measure:
        kwargs["completion_threshold"] = threshold.min_progress_measure
    return kwargs


def _active_attempt(s: Session, attempt_id: str) -> tuple[Attempt, CourseVersion]:
    """An attempt that may still be played, with its pinned course version.

    Raises:
        AttemptNotFound: no such attempt.
        AttemptClosed: completed or abandoned.
    """
    attempt = s.get(Attempt, attempt_id)
    if attempt is None:
        raise AttemptNotFound()
    if attempt.status != "active":
        raise AttemptClosed()
    version = s.get(CourseVersion, attempt.course_version_id)
    if version is None:  # pragma: no cover - FK
        raise AttemptNotFound()
    return attempt, version


def start_item_session(
    services: Services, attempt_id: str, item_id: str, *, learner_id: str, learner_name: str | None = None
) -> ItemSession:
    """Begin a session of one item: the state document the SCO starts with.

    An earlier session that never terminated (closed tab, dropped connection) is finished
    first, so its session time counts and nothing the learner did is lost; a suspended (or
    1.2) session resumes with ``entry=resume``. ``learner_name`` None: the name the LMS sent
    with the learner's latest launch (their registration), as for pages opened without a launch
    (navigation to the next item, the new-window player).

    Raises:
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    with services.db.session() as s:
        attempt, version = _active_attempt(s, attempt_id)
        return _start_session(s, services, attempt, version, item_id, learner_id=learner_id, learner_name=learner_name)


def _start_current(
    s: Session,
    services: Services,
    view: OpenedAttempt,
    attempt: Attempt,
    version: CourseVersion,
    *,
    learner_id: str,
    learner_name: str | None,
    fresh: bool = False,
) -> ItemSession | None:
    """The session of the view's current item, started in ``s``; None when it delivers no item."""
    if not any(i.id == view.current_item for i in view.items):
        return None
    return _start_session(
        s,
        services,
        attempt,
        version,
        str(view.current_item),
        learner_id=learner_id,
        learner_name=learner_name,
        fresh=fresh,
    )


def _start_session(
    s: Session,
    services: Services,
    attempt: Attempt,
    version: CourseVersion,
    item_id: str,
    *,
    learner_id: str,
    learner_name: str | None,
    fresh: bool = False,
) -> ItemSession:
    """:func:`start_item_session` of a playable attempt already loaded in ``s``.

    ``fresh``: the attempt was created in this transaction, so it has no SCO state to look up.

    Raises:
        ItemNotFound.
    """
    if learner_name is None:
        reg = s.get(LearnerRegistration, attempt.registration_id)
        learner_name = (reg.name if reg is not None else None) or DEFAULT_LEARNER_NAME
    items = {i.id: i for i in player_items(version)}
    if item_id not in items:
        raise ItemNotFound()
    attempt_id = attempt.id
    _assign(attempt, {"current_item": item_id})
    cmi_version = CMI_VERSION[version.standard]
    row = None if fresh else s.get(ScoState, (attempt_id, item_id))
    if items[item_id].kind == ASSET:
        if row is None:
            row = ScoState(
                attempt_id=attempt_id, item_id=item_id, cmi_version=ASSET, state={}, seq=0, sessions=0, outcome={}
            )
            s.add(row)
        row.sessions += 1
        return ItemSession(
            item_id=item_id, cmi_version=ASSET, state={}, seq=row.seq, kind=ASSET, last_commit_id=row.last_commit_id
        )
    manifest_item = manifest_items(services, version).get(item_id)
    extra = _initial_kwargs(manifest_item, cmi_version)
    tree = activity_tree(services, version)
    if tree is not None and cmi_version == "2004" and attempt.sequencing and item_id in tree.activities:
        data = sequencing.launch_data(tree, attempt.sequencing, item_id)
        extra["scaled_passing_score"] = data["scaled_passing_score"]
        extra["completion_threshold"] = data["completion_threshold"]
        ids = [o["id"] for o in data["objectives"]]
        extra["objective_ids"] = tuple(dict.fromkeys([*extra.get("objective_ids", ()), *ids]))
        extra["objectives"] = tuple(data["objectives"])  # their status, read through global maps
    previous: Mapping[str, Any] | None = None
    if row is not None and row.state:
        previous = finish_session(row.state, cmi_version) if row.session_open else row.state
        # cmi.exit unset means "resume" only for a session that never terminated (a crash);
        # after Terminate it is "" = a new attempt (RTE 4th 4.2.8, ADL CTS DMB).
        if not attempt_continues(previous, cmi_version, resume_if_exit_unset=row.session_open):
            previous = None
    state = initial_state(
        cmi_version,
        learner_id=learner_id,
        learner_name=learner_name,
        previous_state=previous,
        **extra,
    )
    if row is None:
        row = ScoState(
            attempt_id=attempt_id,
            item_id=item_id,
            cmi_version=cmi_version,
            state=state,
            seq=0,
            sessions=0,
            outcome={},
        )
        s.add(row)
    row.state = state
    row.sessions += 1
    row.session_open = True
    return ItemSession(
        item_id=item_id,
        cmi_version=cmi_version,
        state=state,
        seq=row.seq,
        kind="sco",
        last_commit_id=row.last_commit_id,
    )


# -- commits ---------------------------------------------------------------------------------


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    """An outcome as stored JSON."""
    return {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(outcome).items()}


def _outcome_from_dict(data: Mapping[str, Any]) -> Outcome:
    if not data:
        return Outcome(completion=Completion.NOT_ATTEMPTED)
    return Outcome(
        score_scaled=data.get("score_scaled"),
        score_raw=data.get("score_raw"),
        score_min=data.get("score_min"),
        score_max=data.get("score_max"),
        completion=Completion(data.get("completion", "unknown")),
        success=Success(data.get("success", "unknown")),
        progress=data.get("progress"),
        total_time_seconds=float(data.get("total_time_seconds", 0.0)),
    )


def _parse_body(body: Mapping[str, Any]) -> tuple[int, str | None, dict[str, Any], bool, bool]:
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidCommit("'seq' must be a positive whole number")
    commit_id = body.get("id")
    if commit_id is not None and (not isinstance(commit_id, str) or len(commit_id) > 64):
        raise InvalidCommit("'id' must be a string of at most 64 characters")
    changes = body.get("changes", {})
    if not isinstance(changes, dict):
        raise InvalidCommit("'changes' must be an object of element → value")
    if len(changes) > MAX_CHANGES:
        raise InvalidCommit(f"a commit may carry at most {MAX_CHANGES} values")
    for key, value in changes.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float) or isinstance(value, bool):
            raise InvalidCommit("every change must be an element name with a string or number value")
    terminate = body.get("terminate", False)
    asset_completed = body.get("asset_completed", False)
    if not isinstance(terminate, bool) or not isinstance(asset_completed, bool):
        raise InvalidCommit("'terminate' and 'asset_completed' must be true or false")
    return seq, commit_id, changes, terminate, asset_completed


_COMMIT_READ = (
    select(
        ScoState.state,
        ScoState.seq,
        ScoState.cmi_version,
        ScoState.session_open,
        ScoState.last_commit_id,
        ScoState.outcome,
        Attempt.status,
        Attempt.outcome.label("attempt_outcome"),
    )
    .join(Attempt, Attempt.id == ScoState.attempt_id)
    .where(ScoState.attempt_id == bindparam("attempt_id"), ScoState.item_id == bindparam("item_id"))
)


def _left_without_exit(row: Any, changes: Mapping[str, Any]) -> bool:
    """A running SCORM 2004 session whose content set no ``cmi.exit`` (stored or in this commit)."""
    if row.cmi_version != "2004" or not row.session_open or "cmi.exit" in changes:
        return False
    values = row.state.get("values") if isinstance(row.state, dict) else None
    return not (values or {}).get("cmi.exit")


def commit(services: Services, attempt_id: str, item_id: str, body: Mapping[str, Any]) -> CommitReply:
    """Apply one commit from the player (already authenticated for ``attempt_id``).

    The hot path is two statements: one read of the SCO's state joined with its attempt, one
    conditional UPDATE. Only when the SCO's outcome changed is the attempt rolled up (one more
    read, one more write, and the outcome hooks).

    Raises:
        InvalidCommit: malformed body (nothing stored).
        StaleCommit: ``seq`` not newer than the stored one (nothing stored).
        AttemptNotFound, AttemptClosed, ItemNotFound.
    """
    seq, commit_id, changes, terminate, asset_completed = _parse_body(body)
    now = utcnow()
    with services.db.session() as s:
        row = s.execute(_COMMIT_READ, {"attempt_id": attempt_id, "item_id": item_id}).first()
        if row is None:
            if s.get(Attempt, attempt_id) is None:
                raise AttemptNotFound()
            raise ItemNotFound("this part of the course was not started in this attempt; reload the player")
        if row.status != "active":
            raise AttemptClosed()
        if seq <= row.seq:
            if commit_id is not None and commit_id == row.last_commit_id:
                return CommitReply(
                    seq=row.seq,
                    stored=0,
                    rejected=(),
                    outcome=row.outcome,
                    attempt_outcome=row.attempt_outcome,
                    replayed=True,
                )
            raise StaleCommit(row.seq + 1)
        rejected: tuple[dict[str, Any], ...] = ()
        stored = 0
        objectives_changed = False
        if row.cmi_version == ASSET:
            state: dict[str, Any] = row.state
            completed = asset_completed or bool(row.outcome)
            outcome = outcome_dict(Outcome(completion=Completion.COMPLETED)) if completed else {}
            session_open = False
        else:
            if terminate and body.get("unloaded") is True and _left_without_exit(row, changes):
                # the page closed on a session the content never terminated: a closed tab is not a
                # normal exit, so the relaunch resumes where the learner was (runtime.js contract)
                changes = {**changes, "cmi.exit": "suspend"}
            result = apply_commit(row.state, changes, row.cmi_version)
            state = result.state
            stored = len(result.stored)
            # cmi.objectives.n feed sequencing (objective maps, precondition rules) though they
            # are not part of the graded outcome
            objectives_changed = any(element.startswith("cmi.objectives.") for element in result.stored)
            rejected = tuple(
                {"element": r.element, "value": r.value, "code": r.code, "message": r.message} for r in result.rejected
            )
            if rejected:
                logger.warning(
                    "content defect in attempt %s item %s: %d value(s) refused (%s)",
                    attempt_id,
                    item_id,
                    len(rejected),
                    ", ".join(f"{r['element']}→{r['code']}" for r in rejected[:5]),
                    extra={"action": "runtime_values_refused"},
                )
            session_open = row.session_open and not terminate
            if terminate and row.session_open:
                state = finish_session(state, row.cmi_version)
            outcome = outcome_dict(outcome_from_state(state, row.cmi_version))
        done = s.execute(
            update(ScoState)
            .where(ScoState.attempt_id == attempt_id, ScoState.item_id == item_id, ScoState.seq == row.seq)
            .values(
                state=state,
                seq=seq,
                outcome=outcome,
                session_open=session_open,
                last_commit_id=commit_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleCommit(seq + 1)
        attempt_outcome = row.attempt_outcome
        # Session time moves on every commit; only a change in what is graded or in the SCO's
        # objectives (or the end of a session) is worth the sequencing report and the attempt
        # rollup. An objective written alone can enable the next activity (a post test whose
        # precondition reads it): the player's Continue must learn it now, not at Terminate.
        graded_change = _graded(outcome) != _graded(row.outcome)
        tracked = terminate or graded_change or objectives_changed
        if tracked:
            _track(s, services, attempt_id, item_id, row.cmi_version, state, terminated=terminate)
        if tracked:
            attempt_outcome = _roll_up(s, services, attempt_id, now)
        return CommitReply(
            seq=seq,
            stored=stored,
            rejected=rejected,
            outcome=outcome,
            attempt_outcome=attempt_outcome,
            sequencing_changed=tracked,
        )


def _track(
    s: Session,
    services: Services,
    attempt_id: str,
    item_id: str,
    cmi_version: str,
    state: Mapping[str, Any],
    *,
    terminated: bool,
) -> None:
    """Report a SCO's (or asset's) data to the attempt's sequencing state, same transaction."""
    attempt = s.get(Attempt, attempt_id)
    version = s.get(CourseVersion, attempt.course_version_id) if attempt is not None else None
    if attempt is None or version is None or not attempt.sequencing:
        return
    tree = activity_tree(services, version)
    if tree is None or item_id not in tree.activities:
        return
    if cmi_version == ASSET:
        attempt.sequencing = dict(
            sequencing.report_sco_outcome(tree, attempt.sequencing, item_id, completion="completed", attempt_ended=True)
        )
    else:
        attempt.sequencing = dict(
            sequencing.report_cmi_state(tree, attempt.sequencing, item_id, state, terminated=terminated)
        )


def _item_ids(s: Session, version_id: int) -> tuple[str, ...]:
    """Launchable item ids of a version (from :func:`player_items`, cached by checksum)."""
    version = s.get(CourseVersion, version_id)
    return tuple(i.id for i in player_items(version)) if version is not None else ()


def _graded(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """An outcome without its time, which changes on every commit."""
    return {k: v for k, v in outcome.items() if k != "total_time_seconds"}


def _sequenced_outcome(s: Session, services: Services, attempt: Attempt) -> dict[str, Any]:
    """A SCORM 2004 attempt's completion/success/score from its sequencing root (issue 13)."""
    version = s.get(CourseVersion, attempt.course_version_id)
    if version is None or version.standard != "scorm2004" or not attempt.sequencing:
        return {}
    tree = activity_tree(services, version)
    if tree is None:
        return {}
    seq = sequencing.course_outcome(tree, attempt.sequencing)
    return {k: v for k, v in seq.items() if v is not None or k in ("completion", "success")}


def _roll_up(s: Session, services: Services, attempt_id: str, now: datetime) -> dict[str, Any]:
    """Recompute the attempt's outcome; on change store it and call the outcome hooks."""
    attempt = s.get(Attempt, attempt_id)
    if attempt is None:  # pragma: no cover - checked by the caller in this transaction
        raise AttemptNotFound()
    items = _item_ids(s, attempt.course_version_id)
    stored = dict(s.execute(select(ScoState.item_id, ScoState.outcome).where(ScoState.attempt_id == attempt_id)).all())
    outcomes: Sequence[Outcome] = [_outcome_from_dict(stored.get(item, {})) for item in items]
    rolled = outcome_dict(rollup_outcomes(list(outcomes)))
    rolled.update(_sequenced_outcome(s, services, attempt))
    if _graded(attempt.outcome) == _graded(rolled):
        if attempt.outcome.get("total_time_seconds") != rolled.get("total_time_seconds"):
            attempt.outcome = rolled
        return rolled
    attempt.outcome = rolled
    attempt.outcome_at = now
    reg = s.get(LearnerRegistration, attempt.registration_id)
    for hook in services.hooks.get("outcome_changed", []):
        hook(session=s, registration=reg, attempt=attempt, outcome=rolled, changed_at=now)
    return rolled


# -- reopening, completion, navigation -------------------------------------------------------


def reopen_attempt(services: Services, attempt_id: str) -> OpenedAttempt:
    """The player view of an existing active attempt (new window, navigation).

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    with services.db.session() as s:
        attempt, version = _active_attempt(s, attempt_id)
        return _reopened(s, services, attempt, version)


def reopen_and_start(
    services: Services, attempt_id: str, *, learner_id: str
) -> tuple[OpenedAttempt, ItemSession | None]:
    """:func:`reopen_attempt`, then :func:`start_item_session` of its current item, in one transaction.

    The new-window player's path; the SCO gets the learner's name from their registration.

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    with services.db.session() as s:
        attempt, version = _active_attempt(s, attempt_id)
        view = _reopened(s, services, attempt, version)
        return view, _start_current(s, services, view, attempt, version, learner_id=learner_id, learner_name=None)


def _reopened(s: Session, services: Services, attempt: Attempt, version: CourseVersion) -> OpenedAttempt:
    reg = s.get(LearnerRegistration, attempt.registration_id)
    if reg is None:  # pragma: no cover - FK
        raise AttemptNotFound()
    return _opened(services, attempt, version, version.course.title, reg, resumed=True)


@dataclass(frozen=True, kw_only=True)
class NavDecision:
    """What a navigation request leads to (and the refreshed menu)."""

    item: PlayerItem | None = None
    end: bool = False
    message: str | None = None
    error: str | None = None
    opened: OpenedAttempt | None = None


def _record_suspension(s: Session, tree: sequencing.ActivityTree, attempt_id: str, suspended: str | None) -> None:
    """A suspendAll suspended the SCO ``suspended``: its next session resumes its data.

    SCORM 2004 (RTE 4th ed. cmi.entry; ADL CTS DMB: ``cmi.exit=normal`` then ``suspendAll``
    relaunches with ``entry=resume`` and the suspend data) — suspendAll suspends the SCO's attempt
    whatever ``cmi.exit`` it wrote (``""``, ``normal``, or none before the player's Exit). The
    stored (write-only) ``cmi.exit`` becomes ``suspend``: it is what :func:`_start_session` reads to
    continue the attempt. Without this the relaunch delivered the right SCO through resumeAll but
    with ``entry=ab-initio`` and no location or suspend data.
    """
    if suspended is None or suspended not in tree.activities or not tree.activities[suspended].is_leaf:
        return  # a cluster was suspended (the SCO had already exited): nothing of a SCO to keep
    row = s.get(ScoState, (attempt_id, suspended))
    if row is None or row.cmi_version != "2004" or not row.state:
        return
    values = dict(row.state.get("values") or {})
    if values.get("cmi.exit") == "suspend":
        return
    values["cmi.exit"] = "suspend"
    row.state = {**row.state, "values": values}
    logger.info(
        "suspendAll suspended %s of attempt %s: its next session resumes",
        suspended,
        attempt_id,
        extra={"action": "runtime_suspend_all"},
    )


def _record_attempt_end(
    s: Session,
    tree: sequencing.ActivityTree,
    attempt_id: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> None:
    """Sequencing ended (not suspended) the attempt of the SCO that was current: its next session
    is a new attempt, even if it never wrote ``cmi.exit``.

    ``scorm.cmi.attempt_continues`` resumes a session whose SCO wrote no ``cmi.exit`` (a closed tab
    must not lose progress); once sequencing has ended that SCO's attempt (continue, choice,
    exit, exitAll...) the stored write-only ``cmi.exit`` becomes ``""`` (RTE 4th: a new attempt,
    ``entry=ab-initio``; ADL CTS DMB: Terminate without ``cmi.exit``, then a choice of the same
    SCO, relaunches it ab-initio). SCORM 1.2 keeps its data within the attempt: untouched.
    """
    leaf = before.get("current") if tree.standard == "scorm2004" else None
    if leaf is None or leaf not in tree.activities or not tree.activities[leaf].is_leaf:
        return
    was, now = before["activities"][leaf], after["activities"][leaf]
    ended = was["active"] and (not now["active"] or now["attempts"] != was["attempts"])
    if not ended or now["suspended"]:
        return
    row = s.get(ScoState, (attempt_id, leaf))
    if row is None or row.cmi_version != "2004" or not row.state:
        return
    values = dict(row.state.get("values") or {})
    if "cmi.exit" in values:
        return
    values["cmi.exit"] = ""
    row.state = {**row.state, "values": values}


def navigate(services: Services, attempt_id: str, request: str, target: Any = None) -> NavDecision:
    """Run a navigation request through the SN engine (``scorm.sequencing``) for the attempt.

    ``request`` is a player request (``continue``, ``previous``, ``choice``, ``jump``, ``exit``,
    ``exitAll``, ``suspendAll``, ``abandon``, ``abandonAll``) or a raw ``adl.nav.request``
    value. A refused request changes nothing and answers the SN exception in plain words.

    Raises:
        AttemptNotFound, AttemptClosed.
    """
    if not isinstance(request, str) or not request or len(request) > 300:
        return NavDecision(error="nav_invalid_request", message="that navigation request is not valid")
    if target is not None and (not isinstance(target, str) or len(target) > 255):
        return NavDecision(error="nav_invalid_target", message="That part of the course cannot be opened.")
    with services.db.session() as s:
        attempt, version = _active_attempt(s, attempt_id)
        reg = s.get(LearnerRegistration, attempt.registration_id)
        if reg is None:  # pragma: no cover - FK
            raise AttemptNotFound()
        tree = activity_tree(services, version)
        if tree is None or not attempt.sequencing:
            return NavDecision(error="nav_unavailable", message="This course has no navigation.")
        try:
            result = sequencing.navigate(tree, attempt.sequencing, request, target)
        except sequencing.SequencingError as exc:
            return NavDecision(error=f"nav_{exc.code}", message=str(exc))
        if result.exception:
            return NavDecision(
                error="nav_refused",
                message=result.message or "That is not possible right now.",
                opened=_opened(services, attempt, version, version.course.title, reg, resumed=True),
            )
        before = attempt.sequencing
        attempt.sequencing = dict(result.state)
        attempt.current_item = result.deliver
        if sequencing.parse_nav_request(request, target).request == "suspendAll":
            _record_suspension(s, tree, attempt.id, result.state.get("suspended"))
        else:
            _record_attempt_end(s, tree, attempt.id, before, result.state)
        if tree.standard == "scorm2004":
            # ending an attempt (exit, the LMS-set status of SCOs that set none) rolls the course up
            _roll_up(s, services, attempt.id, utcnow())
        opened = _opened(services, attempt, version, version.course.title, reg, resumed=True)
        item = next((i for i in opened.items if i.id == result.deliver), None) if result.deliver else None
        return NavDecision(item=item, end=result.end or item is None, message=result.message, opened=opened)
