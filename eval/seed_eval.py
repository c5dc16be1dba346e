"""Grounding eval on the seed article: questions written from its text, with gold evidence.

    python -m eval.seed_eval [--json PATH]

Prints evidence hit@1 (the first citation contains the gold evidence span), abstention on the
unanswerable questions, false abstentions on the answerable ones, key-fact recall, citation
validity, and the follow-up conversations' hit@1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.service import QAService
from qa.types import Answer

SEED_QUESTIONS = Path(__file__).resolve().parent / "data" / "seed_questions.json"


@dataclass
class SeedRow:
    id: str
    question: str
    answerable: bool
    abstained: bool
    confidence: float
    hit_at_1: bool
    key_fact_recall: float
    citations_valid: bool
    first_citation: str
    latency_ms: float
    history: list[list[str]] = field(default_factory=list)


def load_seed_set(path: Path = SEED_QUESTIONS) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def evidence_hit(ans: Answer, doc_text: str, doc_id: str, evidence: str) -> bool:
    """The first citation covers the gold evidence span (by offsets into the article)."""
    if not ans.citations or not evidence:
        return False
    start = doc_text.find(evidence)
    c = ans.citations[0]
    return c.doc_id == doc_id and c.start <= start and start + len(evidence) <= c.end


def _row(svc: QAService, doc_id: str, q: dict, question: str, history: list) -> SeedRow:
    text = svc.document_text(doc_id)
    t = time.perf_counter()
    ans = svc.ask(question, history=history)
    ms = (time.perf_counter() - t) * 1000
    facts = q.get("key_facts") or []
    said = ans.text.lower()
    valid = all(
        c.quote == svc.document_text(c.doc_id)[c.start : c.end]
        for c in [*ans.citations, *ans.related]
    )
    return SeedRow(
        q["id"],
        question,
        q["answerable"],
        ans.abstained,
        ans.confidence,
        evidence_hit(ans, text, doc_id, q.get("evidence", "")),
        (sum(f.lower() in said for f in facts) / len(facts)) if facts else 0.0,
        valid,
        ans.citations[0].quote if ans.citations else "",
        ms,
        [list(h) for h in history],
    )


def run_seed_eval(
    svc: QAService, data: dict | None = None
) -> tuple[dict[str, float], list[SeedRow]]:
    """Ask every seed question (and conversation) and return (metrics, per-question rows)."""
    data = data or load_seed_set()
    doc_id = data["article"]
    rows = [_row(svc, doc_id, q, q["question"], []) for q in data["questions"]]
    conv_rows = []
    for conv in data["conversations"]:
        first, second = conv["turns"]
        prior = svc.ask(first)
        conv_rows.append(_row(svc, doc_id, conv, second, [(first, prior.text)]))
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    every = rows + conv_rows
    metrics = {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "hit@1": float(np.mean([r.hit_at_1 for r in ans])),
        "key_fact_recall": float(np.mean([r.key_fact_recall for r in ans])),
        "abstained_unanswerable": float(np.mean([r.abstained for r in una])) if una else 0.0,
        "false_abstention": float(np.mean([r.abstained for r in ans])),
        "citation_validity": float(np.mean([r.citations_valid for r in every])),
        "conversations": len(conv_rows),
        "followup_hit@1": float(np.mean([r.hit_at_1 for r in conv_rows])) if conv_rows else 0.0,
        "latency_ms_p50": float(np.percentile([r.latency_ms for r in every], 50)),
        "latency_ms_p95": float(np.percentile([r.latency_ms for r in every], 95)),
    }
    return metrics, rows + conv_rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="write metrics and rows to this file")
    ap.add_argument("--verbose", action="store_true", help="print every question")
    args = ap.parse_args(argv)
    svc = QAService.from_seeds()
    metrics, rows = run_seed_eval(svc)
    if args.verbose:
        for r in rows:
            mark = "ok " if (r.hit_at_1 if r.answerable else r.abstained) else "MISS"
            print(f"{mark} {r.id} conf={r.confidence:.2f} abst={r.abstained!s:5} {r.question}")
    width = max(len(k) for k in metrics)
    for k, v in metrics.items():
        print(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"metrics": metrics, "rows": [asdict(r) for r in rows]}, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
