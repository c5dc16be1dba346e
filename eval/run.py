"""Run the grounding eval suites for this engine and its baselines, then write the report.

    qa eval [--suite seed|paraphrase|explain|squad|guide|all] [--limit N] [--out DIR]
    python -m eval.run ...            (the same)

``seed``: the seed article's question set (eval/data/seed_questions.json), conversations included.
``squad``: the SQuAD 2.0 dev split in eval/data, one index per article (``--limit``
articles). Every system answers the same questions on the same machine in the same run.
``guide``: the article guide on the seed and the SQuAD articles (``eval/guide.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from eval.crossfit import use_cross_fitted
from eval.metrics import grounding_metrics, metrics_by_kind
from eval.seed_set import load_seed_set
from eval.squad import CACHE, SQUAD2_DEV, load_articles
from eval.systems import SYSTEMS, Engine, build_systems
from index.embed import CachedEmbedder, Embedder
from index.errors import QAError
from qa.kinds import question_kind
from qa.service import QAService

Results = dict[str, dict[str, Any]]  # suite -> system -> {"metrics", "rows"}


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.label, self.total, self.done, self.enabled = label, total, 0, enabled
        self.t0 = self.last = time.time()

    def step(self, n: int = 1) -> None:
        """One more item done."""
        self.done += n
        now = time.time()
        if self.enabled and (now - self.last >= 0.5 or self.done == self.total):
            self.last = now
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            print(
                f"\r  {self.label:6s} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} ({time.time() - self.t0:.0f}s)",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        """End the progress line."""
        if self.enabled:
            print(file=sys.stderr)


def seed_records(svc: QAService, progress: bool = True, part: str = "seed") -> dict[str, list[dict]]:
    """``part``: "seed" (the team's questions and conversations), "paraphrase" (the same
    facts asked in other words than the article's) or "explain" (why and how questions and
    why/how follow-ups)."""
    data = load_seed_set()
    doc_id = data["article"]
    text = svc.document_text(doc_id)
    systems = build_systems(svc, {doc_id: text})
    records: dict[str, list[dict]] = {s.name: [] for s in systems}
    items = {"paraphrase": data["paraphrases"],
             "explain": data["explanations"] + data["explanation_conversations"]}.get(
        part, data["questions"] + data["conversations"])
    bar = Progress(part[:6], len(items), progress)
    for q in items:
        gold = []
        if q["answerable"]:
            start = text.index(q["evidence"])
            gold = [[doc_id, start, start + len(q["evidence"])]]
        history, question = [], q.get("question")
        if "turns" in q:
            first, question = q["turns"]
            history = [(first, svc.ask(first).text)]
        for system in systems:
            engine = system.name.startswith("engine")
            out = system.answer(question, history if engine else None)
            records[system.name].append(
                {
                    "id": q["id"],
                    "answerable": q["answerable"],
                    "gold_spans": gold,
                    "key_facts": q.get("key_facts", []),
                    "short_golds": q.get("short_answers", []),
                    "doc_texts": {doc_id: text},
                    "kind": question_kind(question),
                    **out,
                }
            )
        bar.step()
    bar.close()
    return records


def squad_records(
    limit: int | None, progress: bool = True, reader: Any = None, engine_only: bool = False
) -> dict[str, list[dict]]:
    """Articles are embedded through a cache (re-runs are fast); questions never are, so the
    latency figures include embedding the question. ``reader``: the engine's reading model
    (default: the shipped one as the config says); ``engine_only``: no baselines."""
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    plain = Embedder()
    articles = load_articles(SQUAD2_DEV, limit)
    records: dict[str, list[dict]] = {name: [] for name in SYSTEMS}
    bar = Progress("squad", sum(len(a.questions) for a in articles), progress)
    for art in articles:
        svc = QAService(reader=reader)
        use_cross_fitted(svc, art.title)
        svc.index.embedder = embedder
        doc_id = svc.add_document(art.text, doc_id=art.title[:200].replace("/", "_"))
        svc.index.embedder = plain  # questions are embedded fresh: honest latency
        systems = [Engine(svc)] if engine_only else build_systems(svc, {doc_id: art.text}, embedder)
        for system in systems:
            for q in art.questions:
                out = system.answer(q.question)
                records[system.name].append(
                    {
                        "id": q.qid,
                        "answerable": not q.impossible,
                        "gold_answers": list(q.answers),
                        "short_golds": list(q.answers),
                        "doc_texts": {doc_id: art.text},
                        "kind": question_kind(q.question),
                        **out,
                    }
                )
                if system.name == "engine":
                    bar.step()
    bar.close()
    embedder.save()
    return records


def _scored(records: list[dict]) -> dict:
    metrics, rows = grounding_metrics(records)
    return {"metrics": metrics, "rows": rows, "by_kind": metrics_by_kind(rows)}


def run_suites(suites: list[str], limit: int | None, progress: bool = True) -> Results:
    """Run the named suites; per-suite records and metrics."""
    results: Results = {}
    for part in ("seed", "paraphrase", "explain"):
        if part in suites:
            recs = seed_records(QAService.from_seeds(), progress, part)
            results[part] = {name: _scored(r) for name, r in recs.items()}
    if "squad" in suites:
        recs = squad_records(limit, progress)
        results["squad"] = {name: _scored(r) for name, r in recs.items()}
    return results


def main(argv: list[str] | None = None) -> int:
    """``qa eval``: the grounding suite."""
    ap = argparse.ArgumentParser(prog="qa eval", description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["seed", "paraphrase", "explain", "squad", "guide", "all"],
                    default="all")
    ap.add_argument("--limit", type=int, default=None, help="SQuAD articles to use (default: all 18)")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("eval/out"),
        help="directory for report.json, report.md and the plots",
    )
    ap.add_argument("--no-curve", action="store_true", help="skip the reader's k curve (SQuAD suite)")
    ap.add_argument("--curve-limit", type=int, default=6, help="SQuAD articles for the k curve")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise QAError("--limit must be at least 1")
    suites = ["seed", "paraphrase", "explain", "squad", "guide"] if args.suite == "all" else [args.suite]
    from eval.report import print_table, write_report

    results = run_suites(suites, args.limit)
    if results:
        print_table(results)
    extra: list[str] = []
    curve_png = []
    run_info: dict[str, Any] = {"suites": suites, "limit": args.limit}
    if "guide" in suites:
        from eval.guide import guide_lines, guide_report

        guide = guide_report(args.limit)
        print("\n".join(guide_lines(guide)))
        extra += [*guide_lines(guide, markdown=True), ""]
        run_info["guide"] = guide
    if "squad" in suites and not args.no_curve:
        from eval.reader_curve import curve_lines, plot_curve, reader_curve

        curve = reader_curve(min(args.limit or 18, args.curve_limit))
        title = "### The reader: quality and latency against candidates read (SQuAD)"
        extra += [title, "", *curve_lines(curve)]
        print("\n".join(extra))
        args.out.mkdir(parents=True, exist_ok=True)
        curve_png = [plot_curve(curve, args.out / "reader-k.png")]
    paths = write_report(results, args.out, run_info, extra) + curve_png
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
