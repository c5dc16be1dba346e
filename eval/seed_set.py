"""The seed article's question set: questions written from its text, with verbatim gold evidence.

``eval/data/seed_questions.json``: answerable questions (gold evidence span, key facts),
unanswerable near-topic questions, and two-turn conversations. Run it with
``qa eval --suite seed``. Never used to fit anything.
"""

from __future__ import annotations

import json
from pathlib import Path

SEED_QUESTIONS = Path(__file__).resolve().parent / "data" / "seed_questions.json"


def load_seed_set(path: Path = SEED_QUESTIONS) -> dict:
    """The seed article's question set (eval/data/seed_questions.json)."""
    return json.loads(path.read_text(encoding="utf-8"))
