"""Sensors: uploads become video partitions and their first run."""
