"""A glossary is an input Dagster does not see: the translation made with another one is stale."""

from __future__ import annotations

import dagster as dg

from localization_dagster.definitions import defs
from localization_dagster.freshness import AssetState, StaleChecker, glossary_state


def test_a_changed_glossary_makes_the_translation_stale() -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = "es|workshop"
    instance.report_runless_asset_event(
        dg.AssetMaterialization("translation", partition=key, metadata={"glossary": ""})
    )
    checker = StaleChecker(instance, defs)
    fresh = AssetState("translation", "fresh")
    assert glossary_state(checker, fresh, key, "") == fresh
    changed = glossary_state(checker, fresh, key, "0f" * 32)
    assert (changed.status, changed.reason) == ("stale", "the glossary changed")
