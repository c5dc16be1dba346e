"""How the reader should read: the final ranker fitted anew for each reading policy, and the
hit@1 each gives on held-out train articles.

    python -m eval.read_policy [--articles 200] [--policies 2,1 4,1 4,4 8,8]

A policy is ``Config``'s (``reader_top_k``, ``reader_first_k``, ``reader_more_below``): read the
re-ranker's best ``first_k`` candidates, and up to ``top_k`` when none of those holds an answer
with evidence of at least ``more_below`` (0 here). ``eval.reader_curve`` measures policies on the
SQuAD 2.0 benchmark with the *shipped* final ranker, which was fitted for one policy; this fits
one per policy, as ``eval.train`` would, on the same articles and groups as ``eval.train`` (the
final ranker on 60 % of them, chosen on 20 %, reported on the last 20 %), the shipped re-ranker
and reader. Each question is read once, to the largest ``top_k``; every policy is cut from that
reading (``qa.rerank.as_if_read``: a candidate's reading does not depend on what else was read,
exactly so in float32, tested; in the engine's int8 up to the scale a forward pass shares, which
is why ``eval.train``'s own fit for a policy, reading as the policy says, can differ a little).
About 10 minutes here (reading 8 candidates of 9,000 questions is most of it).
"""

from __future__ import annotations

import argparse
import sys
import time

from eval.fit_reading import Policy, ReadRun, final_hit_at_1, fit_final, fixed, read_runs
from eval.squad import CACHE
from eval.train import split_runs, train_runs
from index.config import Config
from index.embed import CachedEmbedder
from qa.rerank import as_if_read


def cut(rr: list[ReadRun], policy: Policy) -> list[ReadRun]:
    """``rr`` as if it had been read as ``policy`` says (from a reading at least as deep)."""
    return [ReadRun(r.run, r.probs, [as_if_read(read, *policy) for read in r.reads]) for r in rr]


def compare(articles: int, policies: list[Policy]) -> dict[Policy, dict[str, float]]:
    """Per policy: the fitted final ranker's hit@1 on the select and report articles, and the
    mean number of candidates read on the report articles."""
    from qa.features import FEATURES
    from qa.models import load_model
    from qa.reader import Reader

    runs = train_runs(articles, 60, 0.3, CachedEmbedder(CACHE / "embeddings.npz"))
    report, select, fit = split_runs(runs)
    reranker = load_model("reranker", FEATURES)
    reader = Reader(precision=Config().reader_precision)
    t = time.time()
    deepest = fixed(max(p[0] for p in policies))
    read = [read_runs(group, reranker, reader, deepest) for group in (select, fit, report)]
    print(f"  read as {deepest} ({time.time() - t:.0f}s)", flush=True)
    out = {}
    for policy in policies:
        rr_select, rr_fit, rr_report = (cut(group, policy) for group in read)
        final = fit_final(rr_fit, rr_select, policy)
        reads = [len(x.positions) for r in rr_report for x in r.reads if len(x.positions)]
        out[policy] = {"select_hit_at_1": final.info["select_hit_at_1"],
                       "report_hit_at_1": round(final_hit_at_1(rr_report, final, policy), 4),
                       "read_per_question": round(sum(reads) / max(len(reads), 1), 2)}
        print(f"{policy}: {out[policy]}", flush=True)
    print(f"re-ranker only: report hit@1 {final_hit_at_1(read[2], None, fixed(0)):.4f}")
    return out


def parse_policy(text: str) -> Policy:
    """"4,1" → (4, 1, 0.0); "4,1,-2" → (4, 1, -2.0)."""
    parts = text.split(",")
    top, first = int(parts[0]), int(parts[1])
    return (top, first, float(parts[2]) if len(parts) > 2 else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--policies", nargs="+", type=parse_policy,
                    default=[parse_policy(p) for p in ("2,1", "2,2", "4,1", "4,2", "4,4", "8,1", "8,8")])
    args = ap.parse_args(argv)
    compare(args.articles, args.policies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
