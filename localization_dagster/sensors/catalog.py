"""The catalog sensor: keeps the catalog in step with the manifests under ``manifests/``.

On each tick (an interval sensor: a schedule cannot add dynamic partitions) it registers every
listed video that has no record yet and adds its ``videos`` partition, starts ``source_video``
for a new video or one whose source object changed (run key = video + content version: once per
version, across ticks), and adds the requested languages to each record's ``targets`` (and to
the ``languages`` partitions). It launches no translation itself: the request sensor starts each
marked pair once the video is transcribed, and eager automation carries it to delivery. A pair
already requested or already translated is not marked again. At most ``pairs_per_tick`` new or
changed videos and as many pairs per tick, the rest on later ticks. A malformed row is skipped
with one ``file:line: reason`` warning (once, not on every tick); the tick does not fail.
"""

import hashlib
import json
import logging
from collections.abc import Iterable

import dagster as dg

from localization_core.manifest import (
    MANIFESTS,
    Applied,
    CatalogPlan,
    Pair,
    RecordIndex,
    apply_plan,
    find_sources,
    plan_tick,
    read_manifests,
    version_of,
)
from localization_dagster.partitions import add_requests, localizations
from localization_dagster.resources import StorageResource

SOURCE_VIDEO = dg.AssetKey("source_video")
TRANSLATION = dg.AssetKey("translation")
TRIGGER_TAG = "localize/trigger"
MANIFEST_TAG = "localize/manifest"


def translated_pairs(instance: dg.DagsterInstance) -> set[Pair]:
    """The (video, language) pairs whose ``translation`` was ever materialized (one query)."""
    pairs: set[Pair] = set()
    for key in instance.get_materialized_partitions(TRANSLATION):
        dims = localizations.get_partition_key_from_str(key).keys_by_dimension
        pairs.add((dims["video"], dims["lang"]))
    return pairs


def source_requests(applied: Applied) -> list[dg.RunRequest]:
    """One ``source_video`` run per ingested video version, tagged with its manifest."""
    return [
        dg.RunRequest(
            run_key=f"{item.video_id}:{item.version}",
            partition_key=item.video_id,
            asset_selection=[SOURCE_VIDEO],
            tags={TRIGGER_TAG: "catalog", MANIFEST_TAG: item.manifest.removeprefix(MANIFESTS)},
        )
        for item in applied.ingested
    ]


def summary(plan: CatalogPlan, applied: Applied) -> str | None:
    """One line on what the tick did and left for later, or None when it did nothing."""
    if not (applied.ingested or applied.pairs or plan.deferred_videos or plan.deferred_pairs):
        return None
    new = sum(item.new for item in applied.ingested)
    line = (
        f"catalog: registered {new} new video(s), started source_video for "
        f"{len(applied.ingested)}, requested {len(applied.pairs)} (video, language) pair(s)"
    )
    if plan.deferred_videos or plan.deferred_pairs:
        line += (
            f"; left for the next ticks: {plan.deferred_videos} video(s), "
            f"{plan.deferred_pairs} pair(s)"
        )
    return line


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()[:16]


def report_new(log: logging.Logger, problems: Iterable[str], cursor: str | None) -> str:
    """Warn about each problem not reported on the previous tick; the cursor for the next."""
    reported = set(json.loads(cursor or "[]"))
    current = {}
    for problem in problems:
        current[_digest(problem)] = problem
    for digest, problem in current.items():
        if digest not in reported:
            log.warning(problem)
    return json.dumps(sorted(current))


def build_catalog_sensor(
    interval_s: int, pairs_per_tick: int, page_size: int = 500
) -> dg.SensorDefinition:
    """The sensor, evaluating every ``interval_s`` seconds (RUNNING by default), starting at
    most ``pairs_per_tick`` videos and requesting as many pairs per tick."""
    index = RecordIndex()

    @dg.sensor(
        name="catalog_manifests",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[SOURCE_VIDEO],
        description=(
            "Registers the videos listed in the manifests under manifests/ in storage, starts "
            "source_video once per source version and requests their languages "
            f"(at most {pairs_per_tick} videos and pairs per tick); bad rows are logged once."
        ),
    )
    def catalog_manifests(
        context: dg.SensorEvaluationContext, storage: StorageResource
    ) -> dg.SensorResult:
        backend = storage.backend()
        rows, problems = read_manifests(backend, page_size)
        sources = find_sources(backend, {row.source for row in rows}, page_size)
        plan = plan_tick(
            rows,
            {key: version_of(info) for key, info in sources.items()},
            index.load(backend, page_size),
            translated_pairs(context.instance),
            pairs_per_tick,
        )
        applied = apply_plan(backend, plan, sources)
        cursor = report_new(
            context.log, [*problems, *plan.skipped, *applied.problems], context.cursor
        )
        if line := summary(plan, applied):
            context.log.info(line)
        return dg.SensorResult(
            run_requests=source_requests(applied),
            dynamic_partitions_requests=add_requests(
                [i.video_id for i in applied.ingested] + [video for video, _ in applied.pairs],
                [lang for _, lang in applied.pairs],
                context.instance,
            ),
            cursor=cursor,
        )

    return catalog_manifests
