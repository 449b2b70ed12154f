"""Speaker diarization: who speaks when (``DIARIZER_PROVIDER``)."""
