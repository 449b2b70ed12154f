"""`make bench`: the product's claims measured on this machine.

Localizes the held-in clips (tests/media) and longer inputs built from them by concatenation,
through the real CLI, and writes ``bench/results.json`` and the README's bench table: GPU
frames sent vs all vs the speech-only bound, engine failures with and without the face track,
windows redone after a kill, smart render vs a full re-encode, seconds per stage and per video
minute, peak memory per stage for a short and a long input, and Dagster's overhead around each
lip-sync segment. Timed figures are medians of several runs with their min and max; every
comparison is a ratio measured side by side in the same bench run.
"""
