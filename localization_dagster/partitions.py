"""Partitions of DESIGN section 3: videos, languages, and their product."""

from __future__ import annotations

import dagster as dg

videos = dg.DynamicPartitionsDefinition(name="videos")
languages = dg.DynamicPartitionsDefinition(name="languages")
localizations = dg.MultiPartitionsDefinition({"video": videos, "lang": languages})
