"""The grounding suite (``qa eval``: data sets, metrics, baselines, the report) at this level;
benchmarks in ``eval.bench``, training in ``eval.train``, re-runnable probes in ``eval.probes``."""
