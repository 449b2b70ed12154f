"""The daily retention job: storage keeps what current localizations use, and not much more.

Each run (schedule ``retention_daily``, 03:00 UTC, on by default) first takes down every video
flagged with ``takedown/<video>`` (``localize remove VIDEO --at-retention``) through
``removal.take_down``; a flagged video with a run in progress keeps its flag for the next day.
Then it deletes objects older than ``RETENTION_DAYS`` (their ``last_modified``) that nothing
current uses:

- lip-sync segment clips and manifests, TTS clips and face-track cache entries that no current
  artifact (``artifacts/lipsync|dub_track|source_video/...``) points at;
- stems under ``videos/<video>/stems/`` that the video's current ``stems`` artifact does not name;
- translation cache entries (no artifact says which video uses one: a rerun asks the model
  again) and rejected review files under ``edits-rejected/``.

The age rule also protects the work of runs in progress: a segment stored an hour ago by a
lip-sync run that has not written its artifact yet is not old.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg

from localization_core.catalog import VIDEO_ID, record_key
from localization_core.errors import InvalidInputError
from localization_core.settings import get_settings
from localization_core.storage.base import ObjectInfo, StorageBackend
from localization_dagster.removal import TAKEDOWN, owner, take_down, uses
from localization_dagster.resources import StorageResource

# content-addressed: kept while a current artifact points at them
SHARED = ("segments/lipsync/", "cache/tts/", "cache/face_track/")
# kept for the retention period only
AGED = ("cache/translation/", "edits-rejected/")
STEMS = "videos/*/stems/"


@dataclass(frozen=True)
class Swept:
    """What one retention run did."""

    taken_down: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()  # flagged, but a run of theirs is in progress
    deleted: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the run's log."""
        counts = ", ".join(f"{n} under {prefix}" for prefix, n in self.deleted.items() if n)
        parts = [f"took down {len(self.taken_down)} video(s) {list(self.taken_down)}"]
        if self.waiting:
            parts.append(f"{list(self.waiting)} wait for their runs to end")
        parts.append(f"deleted {counts or 'nothing else'}")
        return "; ".join(parts)


def is_old(info: ObjectInfo, cutoff: datetime) -> bool:
    """True when the object was last written before ``cutoff`` (unknown age: kept)."""
    return info.last_modified is not None and info.last_modified < cutoff


def _delete(storage: StorageBackend, keys: Iterable[str]) -> int:
    """Delete ``keys`` (listed first, so a listing never runs over its own deletions)."""
    return sum(storage.delete(key) for key in list(keys))


def _sweep_prefix(storage: StorageBackend, prefix: str, cutoff: datetime, keep: set[str]) -> int:
    """Delete the old objects under ``prefix`` that are not in ``keep``."""
    old = (i.key for i in storage.list(prefix) if i.key not in keep and is_old(i, cutoff))
    return _delete(storage, old)


def _superseded_stems(storage: StorageBackend, cutoff: datetime) -> int:
    """Delete old stem files that the video's current ``stems`` artifact no longer names."""
    deleted = 0
    for artifact in list(storage.list("artifacts/stems/")):
        data = json.loads(storage.read_bytes(artifact.key)).get("data", {})
        current = {data.get(name) for name in ("vocals_key", "background_key", "speech_key")}
        prefix = f"videos/{owner(artifact.key)}/stems/"
        deleted += _sweep_prefix(storage, prefix, cutoff, {k for k in current if k})
    return deleted


def _take_downs(
    storage: StorageBackend, instance: dg.DagsterInstance
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Take down every flagged video; returns (taken down, still running). A flag for a video
    that is not registered (already removed) is simply dropped."""
    taken, waiting = [], []
    for flag in list(storage.list(TAKEDOWN)):
        video = flag.key.removeprefix(TAKEDOWN)
        if not VIDEO_ID.fullmatch(video) or not storage.exists(record_key(video)):
            storage.delete(flag.key)
            continue
        try:
            take_down(storage, instance, video)
        except InvalidInputError:  # a run in progress: the flag stays for the next run
            waiting.append(video)
        else:
            taken.append(video)
    return tuple(taken), tuple(waiting)


def sweep(
    storage: StorageBackend,
    instance: dg.DagsterInstance,
    days: int,
    now: datetime | None = None,
) -> Swept:
    """Take down flagged videos, then delete what nothing current uses and is older than
    ``days`` (see the module docstring)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    taken, waiting = _take_downs(storage, instance)
    in_use: set[str] = set().union(*uses(storage).values())
    deleted = {prefix: _sweep_prefix(storage, prefix, cutoff, in_use) for prefix in SHARED}
    deleted |= {prefix: _sweep_prefix(storage, prefix, cutoff, set()) for prefix in AGED}
    deleted[STEMS] = _superseded_stems(storage, cutoff)
    return Swept(taken_down=taken, waiting=waiting, deleted=deleted)


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Take down flagged videos; delete what no localization uses any more.",
)
def sweep_storage(context: dg.OpExecutionContext, storage: StorageResource) -> None:
    """The job's one step: ``sweep`` with ``RETENTION_DAYS``."""
    swept = sweep(storage.backend(), context.instance, get_settings().retention_days)
    context.log.info(f"retention: {swept.summary()}")


@dg.job(
    name="retention",
    description="Daily: take down videos flagged for takedown, then delete segments, caches, "
    "superseded stems and rejected edits that no current localization uses and that are "
    "older than RETENTION_DAYS.",
)
def retention_job() -> None:
    """The retention job (one step)."""
    sweep_storage()


RETENTION_SCHEDULE = dg.ScheduleDefinition(
    name="retention_daily",
    job=retention_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The retention job every day at 03:00 UTC.",
)
