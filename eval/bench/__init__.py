"""Benchmarks that print figures: speed and memory against the baselines (``qa bench``), scale
(``qa bench --scale``), warm latency, load against a running server, asks during a large add.
They import the engine and the grounding suite's data, never training."""
