"""Domain logic and provider adapters for video localization. Never imports dagster."""
