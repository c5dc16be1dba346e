"""The article guide's report (``qa eval --suite guide``, issue 33), on the seed article and the
public SQuAD 2.0 articles:

* **Questions**: how many candidates were made, shown and dropped by the filter (the engine
  abstained or did not cite the sentence the question was made from), and the share of shown
  questions the engine answers again from that sentence on a fresh service (1.0 by
  construction of the filter; anything less is a bug or a non-deterministic engine).
* **Exact citations**: every citation of every guide (summary, mentions, questions) checked
  ``quote == text[start:end]``.
* **Time** to make a guide, warm (the encoder loaded, the article embedded).
* **Summary choice**: the lead is hidden (the article's first paragraph of 15 words or more is
  the reference, its sentences are not candidates) and each scoring picks three sentences of
  the rest; the figure is content-stem ROUGE-1 F1 against the hidden lead, so it measures
  whether a choice finds the sentences that say what the lead says. Choices: the first three
  remaining sentences, centroid only, centroid + lead prior, centroid + title, and the shipped
  centroid + lead + title (``qa/guide.py``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import numpy as np

from eval.crossfit import use_cross_fitted
from eval.squad import CACHE, SQUAD2_DEV, load_articles
from index.embed import CachedEmbedder, Embedder
from index.settings import seeds_dir
from index.text import content_stems
from qa import QAService
from qa.guide import LEAD_WEIGHT, TITLE_WEIGHT, make_guide, summary_rows

LEAD_WORDS = 15  # a paragraph this long or longer is an article's lead (shorter: a headline)
CHOICES: dict[str, tuple[float, float] | None] = {
    "first three after the lead": None,
    "centroid": (0.0, 0.0),
    "centroid + lead prior": (LEAD_WEIGHT, 0.0),
    "centroid + title": (0.0, TITLE_WEIGHT),
    "centroid + lead prior + title (shipped)": (LEAD_WEIGHT, TITLE_WEIGHT),
}


def _articles(limit: int | None) -> list[tuple[str, str, str]]:
    """(corpus, title, text): the bundled articles, then the public SQuAD 2.0 ones."""
    seeds = [("seed", p.stem, p.read_text(encoding="utf-8")) for p in sorted(seeds_dir().glob("*.txt"))]
    return seeds + [("squad", a.title, a.text) for a in load_articles(SQUAD2_DEV, limit)]


def _rouge1(picked: list[str], reference: str) -> float:
    got, ref = Counter(s for p in picked for s in content_stems(p)), Counter(content_stems(reference))
    overlap = sum((got & ref).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def _summary_scores(svc: QAService, doc_id: str) -> dict[str, float] | None:
    """Each choice's ROUGE-1 F1 against the hidden lead (None: the article has no lead)."""
    index = svc.index
    record = index.get_document(doc_id)
    text, at = record.text, 0
    lead = None
    for para in text.split("\n\n"):
        if len(para.split()) >= LEAD_WORDS:
            lead = (at, at + len(para))
            break
        at += len(para) + 2
    if lead is None:
        return None
    rows, _ = index.rows_of([doc_id])
    after = [int(r) for r in rows if index.sentences[int(r)].start >= lead[1]]
    if len(after) < 6:
        return None
    sentences = [index.sentences[r].text for r in after]
    vectors = np.asarray(index.sentence_vectors[after], dtype=np.float32)
    reference = text[lead[0]:lead[1]]
    out = {}
    for name, weights in CHOICES.items():
        if weights is None:
            picked = [s for s in sentences if len(s.split()) >= 6][:3]
        else:
            picked = [sentences[i] for i in summary_rows(vectors, sentences, record.title,
                                                        lead=weights[0], title_weight=weights[1])]
        out[name] = _rouge1(picked, reference)
    return out


def _exact(guide: Any, text: str) -> tuple[int, int]:
    cites = [*guide.summary, *(m for n in guide.names for m in n.mentions),
             *(q.citation for q in guide.questions)]
    return sum(c.quote == text[c.start:c.end] for c in cites), len(cites)


def guide_report(limit: int | None = None) -> dict[str, Any]:
    """Per corpus: questions made, shown, dropped and answered again; citations exact; guide
    time; and the summary choices' scores (module docstring)."""
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    plain = Embedder()
    out: dict[str, Any] = {}
    for corpus, title, text in _articles(limit):
        part = out.setdefault(corpus, {"articles": 0, "candidates": 0, "shown": 0, "dropped": 0,
                                       "answered again": 0, "exact": 0, "citations": 0,
                                       "seconds": [], "chars": [], "summary": []})
        svc = QAService()
        if corpus == "squad":  # the models that did not see this article (eval/crossfit.py)
            use_cross_fitted(svc, title)
        svc.index.embedder = embedder
        doc_id = svc.add_document(text, doc_id=title[:200].replace("/", "_"))
        svc.index.embedder = plain
        svc.ask("warm-up question?", doc_ids=[doc_id])
        guide = make_guide(svc, doc_id)
        again = QAService(index=svc.index)  # a fresh engine over the same index
        if corpus == "squad":
            use_cross_fitted(again, title)
        part["articles"] += 1
        part["shown"] += len(guide.questions)
        part["dropped"] += guide.dropped
        part["candidates"] += len(guide.questions) + guide.dropped
        for q in guide.questions:
            ans = again.ask(q.question, doc_ids=[doc_id])
            top = ans.citations[0] if ans.citations else None
            part["answered again"] += (not ans.abstained and top is not None
                                       and (top.start, top.end) == (q.citation.start, q.citation.end))
        exact, total = _exact(guide, text)
        part["exact"] += exact
        part["citations"] += total
        part["seconds"].append(guide.seconds)
        part["chars"].append(len(text))
        scores = _summary_scores(svc, doc_id)
        if scores is not None:
            part["summary"].append(scores)
    embedder.save()
    for part in out.values():
        secs = part.pop("seconds")
        part["median seconds"] = round(statistics.median(secs), 3)
        part["max seconds"] = round(max(secs), 3)
        part["max chars"] = max(part.pop("chars"))
        summaries = part.pop("summary")
        part["summary articles"] = len(summaries)
        part["summary rouge1"] = {name: round(float(np.mean([s[name] for s in summaries])), 3)
                                  for name in CHOICES} if summaries else {}
    return out


def guide_lines(report: dict[str, Any], markdown: bool = False) -> list[str]:
    """The report as two tables (questions and citations; summary choices)."""
    sep = " | " if markdown else "  "

    def row(cells: list[Any]) -> str:
        text = sep.join(str(c) for c in cells)
        return f"| {text} |" if markdown else text

    head = ["corpus", "articles", "candidates", "shown", "dropped", "answered again",
            "citations exact", "guide s (median / max)", "longest article"]
    lines = ["### The article guide", "", row(head)]
    if markdown:
        lines.append(row(["---"] * len(head)))
    for corpus, p in report.items():
        shown = p["shown"] or 1
        lines.append(row([corpus, p["articles"], p["candidates"], p["shown"], p["dropped"],
                          f"{p['answered again'] / shown:.3f}",
                          f"{p['exact']}/{p['citations']}",
                          f"{p['median seconds']:.3f} / {p['max seconds']:.3f}",
                          f"{p['max chars']:,} chars"]))
    lines += ["", "Summary choice (lead hidden; content-stem ROUGE-1 F1 against it):", ""]
    names = list(CHOICES)
    lines.append(row(["corpus", "articles", *names]))
    if markdown:
        lines.append(row(["---"] * (len(names) + 2)))
    for corpus, p in report.items():
        if p["summary rouge1"]:
            lines.append(row([corpus, p["summary articles"],
                              *(f"{p['summary rouge1'][n]:.3f}" for n in names)]))
    return lines
