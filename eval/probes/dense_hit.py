"""Dense retrieval alone, encoder against encoder: the share of questions whose answer sentence is
the nearest of its article's sentences to the question's vector.

    python -m eval.probes.dense_hit [--question-only DIR ...]

On the public SQuAD 2.0 split's answerable questions whose answer lies in one sentence (and
those of them asked in other words than that sentence, ``eval.train.reader_data.LOW_OVERLAP``), the
seed set's answerable questions and the paraphrase set. Rows: the bundled all-MiniLM-L6-v2 on
both sides; each ``--question-only DIR`` (an encoder's ``encoder.safetensors``/``.json`` there,
e.g. an earlier question-side-only one) for questions against the bundled model's sentence
vectors; the shipped encoder on both sides, questions in the served precision.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.seed_set import SEED_QUESTIONS
from eval.squad import SQUAD2_DEV, load_articles
from eval.train.encoder import gather, hit_at_1
from index.config import Config
from index.embed import Embedder, bundled_model_path
from index.settings import seeds_dir
from index.split import split_sentences
from qa.qencoder import QuestionEncoder


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.probes.dense_hit``: dense-only hit@1 per encoder and question set."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--question-only", type=Path, nargs="*", default=[])
    args = ap.parse_args(argv)
    texts, ranges, items = gather(load_articles(SQUAD2_DEV))
    seed = json.loads(SEED_QUESTIONS.read_text(encoding="utf-8"))
    article = sorted(p for p in seeds_dir().iterdir() if p.suffix == ".txt")[0].read_text(encoding="utf-8")
    sentences = [s.text for s in split_sentences("seed", article)]

    def seed_hit(vectors: np.ndarray, encode: Callable, which: str) -> float:
        qs = [q for q in seed[which] if q.get("answerable", True)]
        nearest = np.argmax(encode([q["question"] for q in qs]) @ vectors.T, axis=1)
        return float(np.mean([q["evidence"] in sentences[i] for q, i in zip(qs, nearest, strict=True)]))

    bundled = Embedder(bundled_model_path())
    precision = Config().question_encoder_precision
    rows = [("bundled, both sides", bundled, bundled.encode)]
    rows += [(f"{d}, questions only", bundled, QuestionEncoder(d, precision).encode)
             for d in args.question_only]
    rows.append(("shipped encoder, both sides", Embedder(), QuestionEncoder(precision=precision).encode))
    low = sum(it.low_overlap for it in items)
    print(f"| encoder | SQuAD 2.0 public ({len(items)}) | in other words ({low}) | seed | paraphrase |")
    print("|---|---|---|---|---|")
    for name, embedder, encode in rows:
        vectors, seed_vectors = embedder.encode(texts), embedder.encode(sentences)
        q = encode([it.question for it in items])
        print(f"| {name} | {hit_at_1(vectors, ranges, items, q):.3f} | "
              f"{hit_at_1(vectors, ranges, items, q, low_only=True):.3f} | "
              f"{seed_hit(seed_vectors, encode, 'questions'):.3f} | "
              f"{seed_hit(seed_vectors, encode, 'paraphrases'):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
