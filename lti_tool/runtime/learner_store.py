"""What SCORM 2004 keeps per learner across attempts: global objectives and ``adl.data`` stores.

Both live in ``learner_shared_state`` (one row per shared id), per tenant and learner:

* global shared objectives (SN 4.2.1.2; CAM ``organization@objectivesGlobalToSystem``, default
  true): the sequencer's ``state["globals"]`` records are stored after every change of a
  sequencing state and handed to :func:`scorm.sequencing.new_state` when the learner starts a
  new attempt, so a satisfied global objective stays satisfied in the next attempt (and in any
  course that maps the same id). With ``objectivesGlobalToSystem="false"`` nothing is stored
  here: the globals stay in the attempt's own sequencing state.
* shared data (RTE 4th §4.3 ``adl.data``; CAM ``adlcp:data/adlcp:map``): a SCO's mapped stores
  are loaded into ``adl.data.n`` at launch with the map's readSharedData/writeSharedData (which
  :mod:`scorm.cmi` enforces: 405/404), and the stores it may write are saved on every commit
  that changed one. ``sharedDataGlobalToSystem="false"`` scopes them to the attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.course_structure import version_structure
from lti_tool.services import Services
from lti_tool.storage import courses as course_store
from lti_tool.storage import learners
from lti_tool.storage.models import LearnerSharedState
from scorm import sequencing
from scorm.cmi import SHARED_DATA_ACCESS
from scorm.packaging.scorm_manifest import Item

if TYPE_CHECKING:
    from lti_tool.storage.models import Attempt, CourseVersion, LearnerRegistration

OBJECTIVE = "objective"
DATA = "data"
SYSTEM = ""  # the scope of the learner's system-wide store


def _key(target_id: str) -> str:
    return hashlib.sha256(target_id.encode("utf-8")).hexdigest()


def _rows(s: Session, reg: LearnerRegistration, scope: str, kind: str) -> dict[str, LearnerSharedState]:
    rows = s.scalars(
        select(LearnerSharedState).where(
            LearnerSharedState.platform_id == reg.platform_id,
            LearnerSharedState.deployment_id == reg.deployment_id,
            LearnerSharedState.learner_sub == reg.learner_sub,
            LearnerSharedState.scope == scope,
            LearnerSharedState.kind == kind,
        )
    )
    return {row.target_id: row for row in rows}


def _put(
    s: Session,
    reg: LearnerRegistration,
    existing: Mapping[str, LearnerSharedState],
    scope: str,
    kind: str,
    target_id: str,
    value: Any,
) -> None:
    row = existing.get(target_id)
    if row is None:
        s.add(
            LearnerSharedState(
                platform_id=reg.platform_id,
                deployment_id=reg.deployment_id,
                learner_sub=reg.learner_sub,
                scope=scope,
                kind=kind,
                key=_key(target_id),
                target_id=target_id,
                value=value,
            )
        )
    elif row.value != value:
        row.value = value


# -- global objectives ----------------------------------------------------------------------------


def globals_for(s: Session, reg: LearnerRegistration, tree: sequencing.ActivityTree) -> dict[str, Any] | None:
    """The learner's global objectives a new attempt starts with (None: scoped to the attempt)."""
    if not tree.objectives_global_to_system:
        return None
    return {target: row.value for target, row in _rows(s, reg, SYSTEM, OBJECTIVE).items()}


def save_globals(s: Session, attempt: Attempt, tree: sequencing.ActivityTree) -> None:
    """Merge the attempt's global objectives into the learner's store, key by key."""
    records = (attempt.sequencing or {}).get("globals") or {}
    if not tree.objectives_global_to_system or not records:
        return
    reg = learners.registration_by_id(s, attempt.registration_id)
    if reg is None:  # pragma: no cover - FK
        return
    existing = _rows(s, reg, SYSTEM, OBJECTIVE)
    for target_id, record in records.items():
        _put(s, reg, existing, SYSTEM, OBJECTIVE, str(target_id), dict(record))


# -- adl.data -------------------------------------------------------------------------------------


def _scope(services: Services, version: CourseVersion, attempt: Attempt) -> str:
    """The default organization's ``adlcp:sharedDataGlobalToSystem``: the learner's, or this attempt's."""
    manifest = version_structure(services.settings.content_path, version).manifest
    organization = manifest.default_organization if manifest is not None else None
    return SYSTEM if bool(getattr(organization, "shared_data_global_to_system", True)) else attempt.id


def shared_data(
    s: Session, services: Services, version: CourseVersion, attempt: Attempt, item: Item | None
) -> tuple[tuple[str, str | None, bool, bool], ...]:
    """``initial_state(shared_data=...)`` for a launch of ``item``: its maps, stores and permissions."""
    maps = item.shared_data if item is not None else ()
    if not maps:
        return ()
    reg = learners.registration_by_id(s, attempt.registration_id)
    if reg is None:  # pragma: no cover - FK
        return ()
    stored = _rows(s, reg, _scope(services, version, attempt), DATA)
    entries = []
    for m in maps:
        row = stored.get(m.target_id)
        value = row.value if row is not None and isinstance(row.value, str) else None
        entries.append((m.target_id, value, m.read_shared_data, m.write_shared_data))
    return tuple(entries)


def _store_indices(changed: tuple[str, ...]) -> set[int]:
    return {int(e.split(".")[2]) for e in changed if e.startswith("adl.data.") and e.endswith(".store")}


def writes_shared_data(changed: tuple[str, ...]) -> bool:
    """True when a commit that stored ``changed`` wrote an ``adl.data`` store (:func:`save_shared_data`)."""
    return any(e.startswith("adl.data.") and e.endswith(".store") for e in changed)


def save_shared_data(
    s: Session, services: Services, attempt_id: str, state: Mapping[str, Any], changed: tuple[str, ...]
) -> None:
    """Store the ``adl.data`` stores a commit changed that the SCO may write."""
    indices = _store_indices(changed)
    if not indices:
        return
    attempt = learners.attempt_by_id(s, attempt_id)
    version = course_store.version_by_id(s, attempt.course_version_id) if attempt is not None else None
    reg = learners.registration_by_id(s, attempt.registration_id) if attempt is not None else None
    if attempt is None or version is None or reg is None:  # pragma: no cover - FK
        return
    values = state.get("values") or {}
    scope = _scope(services, version, attempt)
    existing = _rows(s, reg, scope, DATA)
    for n in sorted(indices):
        target_id = values.get(f"adl.data.{n}.id")
        store = values.get(f"adl.data.{n}.store")
        if target_id is None or store is None or "w" not in values.get(SHARED_DATA_ACCESS.format(n), "rw"):
            continue
        _put(s, reg, existing, scope, DATA, str(target_id), str(store))
