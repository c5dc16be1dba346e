"""Which stage of the engine finds the answer sentence of the seed article's questions, the
team's own and those written in other words: the rank of the gold sentence by the re-ranker
over the engine's candidates, and by the reader's evidence with every sentence of the article
read (no retrieval in front of it), as hit@1/3/5; and hit@1 of the reader choosing among the
re-ranker's best 5 (a reading policy far more costly than the shipped one).

    python -m eval.paraphrase_stages

A stage none of whose hit@k is high cannot be fixed by re-weighting the others. Never used to
fit anything; about a minute here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from eval.seed_set import load_seed_set
from index.settings import seeds_dir
from qa.retrieve import retrieve
from qa.service import QAService

KS = (1, 3, 5)


@dataclass
class StageRanks:
    """The gold sentence's 0-based rank per question (``len(...)`` when a stage misses it)."""

    reranker: list[int]
    reader_all: list[int]
    reader_top5_hit: list[bool]


def _rank(order: list[int], gold: set[int], missing: int) -> int:
    return next((k for k, i in enumerate(order) if i in gold), missing)


def stage_ranks(svc: QAService, questions: list[dict]) -> StageRanks:
    """Ranks of each question's gold sentence (the index's sentences holding its ``evidence``)."""
    sentences = [s.text for s in svc.index.sentences]
    out = StageRanks([], [], [])
    for q in questions:
        gold = {i for i, s in enumerate(sentences) if q["evidence"] in s}
        vector = svc.embed_questions([q["question"]])[0]
        cands = retrieve(svc.index, vector, q["question"], None)
        probs = svc.reranker.predict(cands.features)
        rows = [int(cands.rows[i]) for i in np.argsort(-probs, kind="stable")]
        out.reranker.append(_rank(rows, gold, len(sentences)))
        evidence = np.array([r.evidence for r in svc.reader.read(q["question"], sentences)])
        out.reader_all.append(_rank([int(i) for i in np.argsort(-evidence, kind="stable")], gold,
                                    len(sentences)))
        top5 = rows[:5]
        out.reader_top5_hit.append(top5[int(np.argmax(evidence[top5]))] in gold if top5 else False)
    return out


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    seed = load_seed_set()
    article = sorted(p for p in seeds_dir().iterdir() if p.suffix == ".txt")[0]
    svc = QAService()
    svc.add_document(article.read_text(encoding="utf-8"), doc_id="seed")
    if svc.reader is None:
        print("the engine has no reader (Config.reader_top_k = 0)", file=sys.stderr)
        return 1
    for name in ("questions", "paraphrases"):
        qs = [q for q in seed[name] if q.get("answerable") and q.get("evidence")]
        r = stage_ranks(svc, qs)
        line = [f"{name} ({len(qs)} answerable):"]
        for stage, ranks in (("re-ranker", r.reranker), ("reader, every sentence", r.reader_all)):
            line.append(stage + " " + " ".join(f"@{k} {np.mean(np.array(ranks) < k):.3f}" for k in KS))
        line.append(f"reader over the re-ranker's best 5 @1 {np.mean(r.reader_top5_hit):.3f}")
        print("\n  ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
