"""Dagster definitions for the localization pipeline (assets, resources, sensors, CLI)."""
