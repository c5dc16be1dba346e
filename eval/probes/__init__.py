"""Measurements kept because they are worth re-running when a model changes: dense retrieval
alone encoder against encoder, readers side by side on held-out sentences, and how much a shared
forward pass moves the reader's scores. Their latest figures are in ``docs/models.md``."""
