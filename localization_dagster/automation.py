"""Declarative automation: everything downstream of source_video follows eagerly."""

import dagster as dg


def build_automation_sensor(interval_s: int) -> dg.AutomationConditionSensorDefinition:
    """The automation sensor, declared RUNNING so a fresh deployment needs no clicks."""
    return dg.AutomationConditionSensorDefinition(
        "localization_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=interval_s,
        description=(
            "Carries every stage after source_video forward when its inputs change, never past "
            "a failed blocking check, and never into a (video, language) pair nobody requested."
        ),
    )
