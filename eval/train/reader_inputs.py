"""The reader's examples as its training and its validation see them: which SQuAD v1.1 train
articles are the reader's, their examples (``reader_data``), a batch as model inputs with
start/end labels, and the validation figures (exact span, has-answer AUROC). Shared by the
reader's training, its SQuAD 2.0 stage, the int8 calibration and the reader probe."""

from __future__ import annotations

import random

import numpy as np

from eval.squad import SQUAD11_TRAIN, load_articles
from eval.train.reader_data import ReaderExample, article_examples
from qa.reader import encode_pairs

FIRST_ARTICLE = 200  # articles before this one belong to eval.train.pipeline (re-ranker, abstainer)
VALIDATION_ARTICLES = 8
MAX_LENGTH = 128
MAX_QUESTION_TOKENS = 40
MAX_ANSWER_TOKENS = 30


def articles() -> tuple[list, list]:
    """The reader's training and validation articles (SQuAD v1.1 train, the fixed shuffle's
    articles from ``FIRST_ARTICLE``; the first ``VALIDATION_ARTICLES`` of them validate)."""
    pool = load_articles(SQUAD11_TRAIN)
    random.Random(0).shuffle(pool)  # the shuffle of eval.train.pipeline
    mine = pool[FIRST_ARTICLE:]
    return mine[VALIDATION_ARTICLES:], mine[:VALIDATION_ARTICLES]


def examples(arts: list, seed: int, other_adversarial: bool = False,
             word_swaps: float = 0.0, low_overlap: float = 0.0) -> list[ReaderExample]:
    """Every article's reader examples (``reader_data.article_examples``), shuffled by ``seed``."""
    rng = random.Random(seed)
    out: list[ReaderExample] = []
    for art in arts:
        out.extend(article_examples(art, rng, other_adversarial=other_adversarial, word_swaps=word_swaps,
                                    low_overlap=low_overlap))
    rng.shuffle(out)
    return out


def tensorize(tokenizer, batch: list[ReaderExample], prefixes: list[str] | None = None,
              max_length: int = MAX_LENGTH) -> dict | None:
    """Inputs and start/end token labels; [CLS] (0) for no answer. Examples whose answer was cut
    off by truncation are labelled by their [CLS] too would be wrong, so they are dropped.
    ``prefixes``: text read before each sentence (context shown, never answered from; the
    answer's span moves by its length)."""
    import torch

    prefixes = prefixes or [""] * len(batch)
    enc = encode_pairs(tokenizer, [e.question for e in batch],
                       [p + e.sentence for p, e in zip(prefixes, batch, strict=True)],
                       max_length, MAX_QUESTION_TOKENS)
    offsets = enc.pop("offset_mapping")
    starts, ends, keep = [], [], []
    for i, ex in enumerate(batch):
        if ex.answer is None:
            starts.append(0)
            ends.append(0)
            keep.append(i)
            continue
        seq = enc.sequence_ids(i)
        a, b = (x + len(prefixes[i]) for x in ex.answer)
        st = en = None
        for t, (s_id, (lo, hi)) in enumerate(zip(seq, offsets[i])):
            if s_id != 1:
                continue
            if st is None and lo <= a < hi or st is None and lo >= a:
                st = t
            if lo < b:
                en = t
        if st is None or en is None or en < st or offsets[i][en][1] < b:
            continue
        starts.append(st)
        ends.append(en)
        keep.append(i)
    if not keep:
        return None
    return {
        "kept": keep,  # (popped before the forward pass) which of ``batch`` these rows are
        "input_ids": torch.as_tensor(enc["input_ids"][keep]),
        "attention_mask": torch.as_tensor(enc["attention_mask"][keep]),
        "token_type_ids": torch.as_tensor(enc["token_type_ids"][keep]),
        "start_positions": torch.as_tensor(starts),
        "end_positions": torch.as_tensor(ends),
    }


def evaluate(model, tokenizer, data: list[ReaderExample]) -> dict[str, float]:
    """Span exact match on positives, and AUROC of (span - null) between positives and the rest
    (``model`` is left in the mode it came in)."""
    import torch
    from sklearn.metrics import roc_auc_score

    from qa.reader import decode_readings

    training = model.training
    model.eval()
    ev, lab, exact = [], [], []
    for k in range(0, len(data), 64):
        batch = data[k : k + 64]
        enc = encode_pairs(tokenizer, [e.question for e in batch], [e.sentence for e in batch],
                           MAX_LENGTH, MAX_QUESTION_TOKENS)
        offsets = enc.pop("offset_mapping")
        ctx = np.asarray([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(batch))])
        with torch.inference_mode():
            out = model(**{k2: torch.as_tensor(v) for k2, v in enc.items()})
        readings = decode_readings(out.start_logits.float().numpy(), out.end_logits.float().numpy(),
                                   ctx, offsets, MAX_ANSWER_TOKENS)
        for ex, r in zip(batch, readings):
            ev.append(r.evidence)
            lab.append(ex.answer is not None)
            if ex.answer is not None:
                exact.append((r.start, r.end) == ex.answer)
    model.train(training)
    return {"span_exact": float(np.mean(exact)), "has_answer_auroc": float(roc_auc_score(lab, ev))}
