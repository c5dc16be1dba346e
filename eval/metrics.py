"""Grounding metrics: plain data in, a flat dict of named metrics plus per-question rows out.

A *record* is one question put to one system. Retrieval metrics (hit@k, MRR) rank the
system's evidence (citations, then related passages) whether or not it abstained;
``answered_hit@1`` counts only answers given with a first citation holding the gold.

    {"id": str, "answerable": bool,
     "gold_spans": [[doc_id, start, end], ...],   # seed set: verbatim evidence, or
     "gold_answers": [str, ...],                  # SQuAD: answer strings (normalised containment)
     "key_facts": [str, ...],                     # optional
     "text": str,                                 # the answer shown to the user
     "abstained": bool, "confidence": float,      # confidence: higher = more sure it is answerable
     "evidence": [{"doc_id", "start", "end", "quote"}, ...],  # ranked: citations, then related
     "n_citations": int,                          # how many of ``evidence`` support ``text``
     "short": str | None,                         # the short answer given, if any
     "short_golds": [str, ...],                   # optional: gold short answers
     "doc_texts": {doc_id: text},                 # to check quote == text[start:end]
     "latency_ms": float,
     "kind": str}                                 # qa.kinds.question_kind of the question

Support of an answer sentence by its citation is verbatim containment (after collapsing
whitespace): every answer this project gives is extractive. A paraphrasing system would need an
entailment judge here; none is used.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from eval.squad import contains_answer, normalize_answer

_MARKER = re.compile(r"\s*\[(\d+)\]")


def _norm(text: str) -> str:
    return " ".join(text.split())


def evidence_hit(ev: dict, record: dict) -> bool:
    """An evidence item contains the gold: a gold span inside it, or a gold answer string."""
    for doc_id, start, end in record.get("gold_spans") or []:
        if ev["doc_id"] == doc_id and ev["start"] <= start and end <= ev["end"]:
            return True
    answers = record.get("gold_answers") or []
    return bool(answers) and contains_answer(ev["quote"], answers)


def answer_parts(text: str) -> list[tuple[str, int]]:
    """Split an answer ``"quote [1] quote [2]"`` into (sentence text, citation number) pairs;
    text without a marker gets number 0 (uncited)."""
    parts, cursor = [], 0
    for m in _MARKER.finditer(text):
        chunk = text[cursor : m.start()].strip()
        if chunk:
            parts.append((chunk, int(m.group(1))))
        cursor = m.end()
    tail = text[cursor:].strip()
    if tail:
        parts.append((tail, 0))
    return parts


def squad_f1(prediction: str, golds: list[str]) -> tuple[float, float]:
    """SQuAD's exact match and token F1 of ``prediction`` against the best of ``golds``
    (official normalisation: lower case, no punctuation or articles)."""
    from collections import Counter

    best_em = best_f1 = 0.0
    pred = normalize_answer(prediction).split()
    for gold in golds:
        g = normalize_answer(gold).split()
        best_em = max(best_em, float(pred == g))
        common = sum((Counter(pred) & Counter(g)).values())
        if common:
            p, r = common / len(pred), common / len(g)
            best_f1 = max(best_f1, 2 * p * r / (p + r))
        elif not pred and not g:
            best_f1 = max(best_f1, 1.0)
    return best_em, best_f1


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def score_record(r: dict) -> dict[str, Any]:
    """Per-question row of measurements."""
    evidence = r.get("evidence") or []
    n_cit = int(r.get("n_citations", 0))
    citations = evidence[:n_cit]
    hits = [evidence_hit(ev, r) for ev in evidence]
    rank = next((i + 1 for i, h in enumerate(hits) if h), None)
    docs = r.get("doc_texts") or {}
    valid = [docs.get(ev["doc_id"], "")[ev["start"] : ev["end"]] == ev["quote"] for ev in evidence]
    parts = [] if r["abstained"] else answer_parts(r.get("text", ""))
    supported = [
        0 < n <= len(citations) and _norm(sentence) in _norm(citations[n - 1]["quote"])
        for sentence, n in parts
    ]
    used = {n for _, n in parts}
    cit_support = [
        any(n == i + 1 and _norm(s) in _norm(c["quote"]) for s, n in parts) for i, c in enumerate(citations)
    ]
    facts = r.get("key_facts") or []
    said = r.get("text", "").lower()
    golds = r.get("short_golds") or []
    short_em = short_f1 = None
    if golds and r["answerable"]:
        # What the reader is given as the answer: the short answer, else the first citation.
        shown = "" if r["abstained"] else (r.get("short") or (citations[0]["quote"] if citations else ""))
        short_em, short_f1 = squad_f1(shown, golds)
    return {
        "id": r["id"],
        "kind": r.get("kind") or "other",
        "answerable": bool(r["answerable"]),
        "abstained": bool(r["abstained"]),
        "confidence": float(r["confidence"]),
        "hit@1": bool(hits[:1] and hits[0]),
        "answered_hit@1": bool(n_cit and hits[0]),
        "first_citation_chars": (citations[0]["end"] - citations[0]["start"]) if citations else 0,
        "hit@3": any(hits[:3]),
        "rr": 1.0 / rank if rank else 0.0,
        "answer_has_gold": bool(
            not r["abstained"]
            and r.get("gold_answers")
            and contains_answer(r.get("text", ""), r["gold_answers"])
        ),
        "key_fact_recall": (sum(f.lower() in said for f in facts) / len(facts)) if facts else None,
        "cited_chars": sum(c["end"] - c["start"] for c in citations),
        "sentences": len(parts),
        "sentences_supported": sum(supported),
        "citations": len(citations),
        "citations_supporting": sum(cit_support),
        "citations_used": len(used & set(range(1, len(citations) + 1))),
        "evidence_valid": all(valid),
        "short_given": bool(r.get("short")),
        "short_em": short_em,
        "short_f1": short_f1,
        "latency_ms": float(r.get("latency_ms", 0.0)),
    }


def grounding_metrics(records: list[dict]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Flat metrics over ``records`` and one row per record. The primary metric is ``hit@1``."""
    rows = [score_record(r) for r in records]
    ans = [x for x in rows if x["answerable"]]
    una = [x for x in rows if not x["answerable"]]
    answered = [x for x in ans if not x["abstained"]]
    abstained = [x for x in rows if x["abstained"]]
    sentences = sum(x["sentences"] for x in rows)
    citations = sum(x["citations"] for x in rows)
    facts = [x["key_fact_recall"] for x in ans if x["key_fact_recall"] is not None]
    shorts = [x for x in ans if x["short_f1"] is not None]
    lat = np.array([x["latency_ms"] for x in rows]) if rows else np.zeros(1)
    labels = np.array([x["answerable"] for x in rows], dtype=int)
    conf = np.array([x["confidence"] for x in rows])

    def mean(values: list) -> float:
        return float(np.mean(values)) if values else float("nan")

    metrics = {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "hit@1": mean([x["hit@1"] for x in ans]),
        "hit@3": mean([x["hit@3"] for x in ans]),
        "answered_hit@1": mean([x["answered_hit@1"] for x in ans]),
        "mrr": mean([x["rr"] for x in ans]),
        "key_fact_recall": mean(facts),
        "answer_contains_gold": mean([x["answer_has_gold"] for x in ans]),
        "short_em": mean([x["short_em"] for x in shorts]),
        "short_f1": mean([x["short_f1"] for x in shorts]),
        "short_given": mean([x["short_given"] for x in answered]),
        "cited_chars_per_answer": mean([x["cited_chars"] for x in answered]),
        "first_citation_chars": mean([x["first_citation_chars"] for x in answered]),
        "citation_recall": (sum(x["sentences_supported"] for x in rows) / sentences)
        if sentences
        else float("nan"),
        "citation_precision": (sum(x["citations_supporting"] for x in rows) / citations)
        if citations
        else float("nan"),
        "citation_validity": mean([x["evidence_valid"] for x in rows]),
        "abstain_precision": mean([not x["answerable"] for x in abstained]),
        "abstain_recall": mean([x["abstained"] for x in una]),
        "false_abstention": mean([x["abstained"] for x in ans]),
        "abstain_auroc": auroc(1 - labels, -conf) if len(una) and len(ans) else float("nan"),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
    }
    return metrics, rows


KIND_METRICS = ("questions", "answerable", "hit@1", "short_f1", "false_abstention", "abstain_recall")


def metrics_by_kind(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The headline figures per question kind (``qa.kinds.KINDS`` order, kinds present only):
    how many questions, hit@1, short-answer F1 and false abstentions over the answerable ones,
    and the share of the unanswerable ones refused."""
    from qa.kinds import KINDS

    out: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        mine = [x for x in rows if x.get("kind", "other") == kind]
        if not mine:
            continue
        ans = [x for x in mine if x["answerable"]]
        una = [x for x in mine if not x["answerable"]]
        shorts = [x["short_f1"] for x in ans if x["short_f1"] is not None]

        def mean(values: list) -> float:
            return float(np.mean(values)) if values else float("nan")

        out[kind] = {
            "questions": len(mine),
            "answerable": len(ans),
            "hit@1": mean([x["hit@1"] for x in ans]),
            "short_f1": mean(shorts),
            "false_abstention": mean([x["abstained"] for x in ans]),
            "abstain_recall": mean([x["abstained"] for x in una]),
        }
    return out
