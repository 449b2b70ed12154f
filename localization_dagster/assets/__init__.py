"""One module per pipeline stage, and the one list of the stage assets per partitioning that
jobs, the CLI's runner and `localize status` are built from."""

from localization_dagster.assets import localization, video
from localization_dagster.assets.lipsync import lipsync

VIDEO_LEVEL = (
    video.source_video,
    video.stems,
    video.transcript,
    video.voice_refs,
    video.face_track,
)
LOCALIZATION_LEVEL = (
    localization.translation,
    localization.translation_review,
    localization.dub_track,
    localization.sync_plan,
    lipsync,
    localization.localized_video,
)
