"""Cross-fitting on the public SQuAD 2.0 split, and the reading policy, as the grounding suite
and training both need them: which half of the split an article is in, the models fitted
without that half (``eval/models/*-xfit-<half>``, written by ``eval.train``), and the reader's
reading settings of a config. Training imports this module; it imports no training."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.service import QAService

XFIT_DIR = Path(__file__).resolve().parent / "models"

# How the reader reads, as Config says: (reader_top_k, reader_first_k, reader_more_below).
Policy = tuple[int, int, float]
POLICY_SETTINGS = ("reader_top_k", "reader_first_k", "reader_more_below")


def policy_of(config) -> Policy:
    """The reading policy a config sets."""
    return tuple(getattr(config, name) for name in POLICY_SETTINGS)


def article_half(title: str) -> int:
    """Which half of the public SQuAD 2.0 split an article belongs to for cross-fitting (by a
    hash of its title, so that ``qa eval`` finds the model that never saw it)."""
    return hashlib.sha256(title.encode("utf-8")).digest()[0] % 2


def use_cross_fitted(svc: QAService, title: str) -> None:
    """Every figure on the public SQuAD 2.0 split is cross-fitted by article: a model fitted on
    the split too is replaced, for the questions of an article, by the one fitted without the
    article's half of it (``eval/models/*-xfit-<half>``). That is the reader, when it was trained
    on the split (``eval.train.squad2_reader``), with the final ranker fitted on its reading; and
    the abstention model and its threshold (``python -m eval.train --squad2-abstain``)."""
    from qa.models import load_model
    from qa.reader import load_reader
    from qa.rerank import FINAL_FEATURES
    from qa.service import ABSTAIN_WITH_READER

    if svc.reader is None:
        return
    half = article_half(title)
    if svc.reader.info.get("squad2_halves"):
        svc.reader = load_reader(XFIT_DIR, f"reader-xfit-{half}", svc.reader.precision)
        svc.final = load_model(f"final-xfit-{half}", FINAL_FEATURES, XFIT_DIR)
    if svc.abstainer.info.get("squad2_public"):
        svc.abstainer = load_model(f"abstainer-xfit-{half}", ABSTAIN_WITH_READER, XFIT_DIR)
        svc.threshold = float(svc.abstainer.info["threshold"])
