"""Training every model the engine ships (``python -m eval.train`` runs the whole pipeline):
the library's encoder, the reader and its SQuAD 2.0 stage, the re-ranker, final ranker and
abstainers, and the int8 calibration. Imports the engine and the grounding suite; neither
imports it. What each command makes and how long it takes: ``docs/models.md``."""
