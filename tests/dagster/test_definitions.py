"""The code location loads and its partitions are the ones DESIGN section 3 names."""

from __future__ import annotations

import subprocess

import dagster as dg

from localization_dagster.definitions import defs
from localization_dagster.partitions import languages, localizations, videos
from tests.conftest import REPO


def test_definitions_load_with_partitioned_source_video() -> None:
    assert dg.AssetKey("source_video") in defs.resolve_asset_graph().get_all_asset_keys()
    assert videos.name == "videos" and languages.name == "languages"
    assert set(localizations.partition_dimension_names) == {"video", "lang"}


def test_workspace_validates() -> None:
    proc = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
