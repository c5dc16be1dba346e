"""Experiment (issue 32): the why/how questions of the reader's SQuAD v1.1 train articles as the
shipped engine ranks them, for ``eval.train.reader --extra``: the answer sentence with its span
("explain_positive") and the engine's best 3 candidates that are not the answer sentence
("explain_confusion", no answer).

    python -m eval.train.explain_confusions OUT.jsonl [--start 0]

Never the benchmark or the seed article: the reader's own train articles only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from eval.squad import CACHE
from eval.train.fit_rerank import is_answer_sentence, run_article
from eval.train.reader_inputs import articles
from index.config import Config
from index.embed import CachedEmbedder
from qa.kinds import EXPLANATION_KINDS, question_kind
from qa.service import QAService


def main(argv: list[str] | None = None) -> int:
    """Write one JSON example a line (question, sentence, answer span or null, kind)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--start", type=int, default=0, help="first of the reader's train articles")
    args = ap.parse_args(argv)
    train, _ = articles()
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    svc = QAService(config=Config(explain_read_k=0))
    n = 0
    with args.out.open("w", encoding="utf-8") as f:
        for a, art in enumerate(train[args.start:], args.start):
            picked = tuple(q for q in art.questions
                           if question_kind(q.question) in EXPLANATION_KINDS and not q.impossible)
            if not picked:
                continue
            run = run_article(type(art)(art.title, art.text, art.paragraph_spans, picked), embedder)
            for q, cands in zip(run.questions, run.cands, strict=True):
                if not len(cands.rows):
                    continue
                order = np.argsort(-svc.reranker.predict(cands.features), kind="stable")
                lo, hi = art.paragraph_spans[q.paragraph]
                found = next(((s.text, s.text.find(ans), len(ans)) for s in run.index.sentences
                              if lo <= s.start < hi for ans in q.answers if ans and ans in s.text), None)
                if found is None:
                    continue
                text, at, length = found
                f.write(json.dumps({"question": q.question, "sentence": text, "answer": [at, at + length],
                                    "kind": "explain_positive"}) + "\n")
                for i in order[:3]:
                    row = int(cands.rows[int(i)])
                    if not is_answer_sentence(run, q, row):
                        f.write(json.dumps({"question": q.question, "sentence": run.index.sentences[row].text,
                                            "answer": None, "kind": "explain_confusion"}) + "\n")
                n += 1
            print(f"\r  articles {a + 1}/{len(train)}: {n} questions", end="", flush=True)
    embedder.save()
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
