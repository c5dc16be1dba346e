"""Ingest side of the pipeline: load, clean, split, embed and store articles."""
