"""Where the short answers miss on the public SQuAD 2.0 split: each answered answerable question's
short answer against its nearest gold (SQuAD normalisation), split by whether the first citation
holds a gold answer.

    python -m eval.short_errors [--limit N]

Asks as ``qa eval`` does (article-level, cross-fitted by article: ``eval.run.squad_records``),
the engine only; about 2 minutes for the 18 articles on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from eval.metrics import squad_f1
from eval.squad import contains_answer, normalize_answer

KINDS = ("exact", "too long", "too short", "overlap", "other phrase", "no short")


def miss_kind(short: str | None, golds: list[str]) -> str:
    """How ``short`` relates to the gold it is nearest (by F1): the same after normalisation, the
    gold inside it ("too long"), it inside the gold ("too short"), sharing some words
    ("overlap") or none ("other phrase"); "no short" when there is none."""
    if short is None:
        return "no short"
    best = max(golds, key=lambda g: squad_f1(short, [g])[1])
    pred, gold = normalize_answer(short), normalize_answer(best)
    if pred == gold:
        return "exact"
    if squad_f1(short, [best])[1] == 0:
        return "other phrase"
    if contains_answer(short, [best]):  # whole words, as evidence hits are judged
        return "too long"
    return "too short" if contains_answer(best, [short]) else "overlap"


def answered(records: list[dict]) -> list[dict]:
    """The answerable questions answered (not refused), with a citation."""
    return [r for r in records if r["answerable"] and not r["abstained"] and r["evidence"]]


def first_holds_answer(record: dict) -> bool:
    """Whether the answer's first citation holds one of the gold answers."""
    return contains_answer(record["evidence"][0]["quote"], record["gold_answers"])


def tally(records: list[dict]) -> dict[bool, Counter]:
    """Kinds of miss per whether the first citation holds a gold answer, over the answerable
    questions answered (not refused)."""
    out: dict[bool, Counter] = {True: Counter(), False: Counter()}
    for r in answered(records):
        out[first_holds_answer(r)][miss_kind(r["short"], r["gold_answers"])] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    from eval.run import squad_records

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="SQuAD articles (default: all 18)")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    records = squad_records(args.limit, engine_only=True)["engine"]
    f1: dict[bool, list[float]] = {True: [], False: []}
    for r in answered(records):
        if r["short"] is not None:
            f1[first_holds_answer(r)].append(squad_f1(r["short"], r["gold_answers"])[1])
    for hit, kinds in tally(records).items():
        where = "first citation holds a gold answer" if hit else "first citation does not"
        mean = sum(f1[hit]) / max(len(f1[hit]), 1)
        print(f"{where}: {sum(kinds.values())} answered, short answers' F1 {mean:.3f}")
        for kind in KINDS:
            print(f"  {kind:13s} {kinds[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
