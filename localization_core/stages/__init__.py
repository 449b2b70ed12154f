"""One module per pipeline stage: the work of each asset, free of Dagster."""
