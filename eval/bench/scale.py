"""Scale: build time, disk, memory, latency, quality and approximate-search recall at 1k / 10k /
100k articles (the corpus of ``eval.bench.corpus``).

    qa bench --scale [--sizes 1000 10000 100000] [--out eval/out/scale]
    (or: python -m eval.bench.scale ...)

Run ``python -m eval.bench.corpus --articles 100000`` first: it embeds every distinct text once into
the content-hash cache (the one slow step on two CPU cores; it reports its own rate). Each size
is built in one child process and served from disk in another, so memory figures are per size.

Recall@10 of the approximate index (IVF-PQ with exact re-scoring) is measured against exact
search over the same live vectors for 300 questions, counting ties: a returned row is right
when its exact score reaches the exact 10th score (copies of a paragraph score the same).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from eval.bench.compare import status_mb

QUESTIONS = 300
BATCH = 2000


def _rss_now_mb() -> float:
    return status_mb("VmRSS")


def _peak_mb() -> float:
    return status_mb("VmHWM")


def _embedder():
    from eval.bench.corpus import EMBED_CACHE
    from index.embed import CachedEmbedder

    return CachedEmbedder(EMBED_CACHE)


def child_build(n: int, out: Path) -> dict:
    """Build and save the library of one size (in a child process)."""
    from eval.bench.corpus import articles
    from index.store import ArticleIndex
    from qa.service import QAService

    embedder = _embedder()
    embedder.encode(["warm up"])
    seed = QAService.from_seeds().documents()[0]
    t0 = time.perf_counter()
    index = ArticleIndex(embedder=embedder)
    index.add_document(seed.text, doc_id=seed.doc_id, title=seed.title)
    batch: list[tuple[str, str | None, str | None, str]] = []
    for art in articles(n):
        batch.append((art.text, art.doc_id, art.title, "squad11-train"))
        if len(batch) == BATCH:
            index.add_documents(batch)
            batch = []
    if batch:
        index.add_documents(batch)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.save(out)
    save_s = time.perf_counter() - t0
    disk = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    embedder.save()  # any text the cache lacked (never the case after eval.bench.corpus)
    return {
        "articles": len(index.documents), "sentences": len(index.sentences),
        "passages": len(index.passages), "build_s": build_s, "save_s": save_s,
        "disk_mb": disk / 2**20, "build_peak_rss_mb": _peak_mb(),
        "index_kind": index.sentence_index.kind,
    }


def _questions(within: int):
    from eval.bench.corpus import questions
    from eval.seed_set import load_seed_set

    squad = questions(QUESTIONS - 38, within=within)
    seed = [q for q in load_seed_set()["questions"] if q["answerable"]][:38]
    return squad, seed


def child_serve(n: int, out: Path) -> dict:
    """Open a saved library and measure asks, memory and quality (in a child process)."""
    import faiss

    from eval.squad import contains_answer
    from index.store import ArticleIndex
    from index.vectors import FaissVectors, build_ivfpq
    from qa.service import QAService

    embedder = _embedder()
    embedder.encode(["warm up"])
    base_rss = _rss_now_mb()
    t0 = time.perf_counter()
    index = ArticleIndex.open(out, embedder=embedder)
    open_s = time.perf_counter() - t0
    serve_rss = _rss_now_mb() - base_rss
    # The engine as this version ships it: the reading settings of today's defaults, whatever
    # the library was saved with (the shipped models are fitted for them).
    from eval.crossfit import POLICY_SETTINGS, policy_of
    from index.config import Config

    reading = dict(zip(POLICY_SETTINGS, policy_of(Config())))
    svc = QAService(index, overrides=reading)
    squad, seed = _questions(min(n, 1000))
    texts = [q.question for q in squad] + [q["question"] for q in seed]
    qvecs = embedder.encode(texts)  # for the search comparison below; ask embeds its question

    def engine_pass() -> tuple[np.ndarray, float, float]:
        for t in texts[:5]:
            svc.ask(t)
        lat, hits_squad, hits_seed = [], 0, 0
        for i, t in enumerate(texts):
            t1 = time.perf_counter()
            ans = svc.ask(t)
            lat.append((time.perf_counter() - t1) * 1000)
            quote = ans.citations[0].quote if ans.citations else ""
            if i < len(squad):
                hits_squad += bool(ans.citations) and contains_answer(quote, squad[i].answers)
            else:
                ev = seed[i - len(squad)]["evidence"]
                hits_seed += bool(ans.citations) and (ev in quote or bool(quote and quote in ev))
        return np.array(lat), hits_squad / len(squad), hits_seed / len(seed)

    # The engine with each kind of vector index: the one the threshold chose (loaded from
    # disk) and the other one, made from the same stored vectors.
    verified_s = None
    if index.verifying is not None:  # the vector files' checksums, checked after open in the
        index.verifying.join()  # background: asks are timed once it is done (steady state)
        verified_s = time.perf_counter() - t0
    chosen = index.sentence_index.kind
    by_kind = {chosen: engine_pass()}
    asks_rss = _rss_now_mb() - base_rss  # after 300 asks: the engine as it serves
    nprobe = index.config.ann_nprobe
    t1 = time.perf_counter()
    other = {}
    for name, table in (("s", index.sentence_table), ("p", index.passage_table)):
        if chosen == "flat":
            other[name] = FaissVectors(table, 0, nprobe, build_ivfpq(table, nprobe))
        else:
            flat = FaissVectors(table, 10**12, nprobe)
            live = table.live_rows()
            flat.add(live, table.vectors[live])
            other[name] = flat
    other_s = time.perf_counter() - t1
    loaded = (index.sentence_index, index.passage_index)
    index.sentence_index, index.passage_index = other["s"], other["p"]
    by_kind[other["s"].kind] = engine_pass()
    index.sentence_index, index.passage_index = loaded
    approx_index = loaded[0] if chosen == "ivfpq" else other["s"]

    # Exact against approximate search, on the sentence table (the larger one).
    table = index.sentence_table
    live = table.live_rows()
    live_vectors = table.vectors[live]
    exact_ms, exact_top = [], []
    for q in qvecs:
        t1 = time.perf_counter()
        scores, ids = faiss.knn(q.reshape(1, -1), live_vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        exact_ms.append((time.perf_counter() - t1) * 1000)
        exact_top.append((live[ids[0]], scores[0]))
    approx_ms, recalls = [], []
    for q, (_, ex_scores) in zip(qvecs, exact_top):
        t1 = time.perf_counter()
        hits = approx_index.search(q, 10)
        approx_ms.append((time.perf_counter() - t1) * 1000)
        tenth = ex_scores[-1]
        exact_of = table.vectors[[h.row for h in hits]] @ q
        recalls.append(float(np.sum(exact_of >= tenth - 1e-5)) / 10)
    # One article in and out of the large index: in place, no rebuild.
    extra = ("The harbour authority opened a new ferry terminal on Friday. It cost 40 million "
             "euros and took three years to build. Officials expect two million passengers a year.")
    t1 = time.perf_counter()
    index.add_document(extra, doc_id="scale-extra")
    add_ms = (time.perf_counter() - t1) * 1000
    t1 = time.perf_counter()
    index.save(out)
    add_save_ms = (time.perf_counter() - t1) * 1000
    t1 = time.perf_counter()
    index.remove_document("scale-extra")
    remove_ms = (time.perf_counter() - t1) * 1000
    t1 = time.perf_counter()
    index.save(out)
    remove_save_ms = (time.perf_counter() - t1) * 1000
    a, h_squad, h_seed = by_kind[chosen]
    b, x_squad, x_seed = by_kind["ivfpq"] if chosen == "flat" else by_kind["flat"]
    return {
        "open_s": open_s, "serve_rss_mb": serve_rss, "serve_rss_after_asks_mb": asks_rss,
        "verified_s": verified_s, "serve_peak_rss_mb": _peak_mb(),
        "index_kind": chosen, "questions": len(texts),
        "ask_p50_ms": float(np.percentile(a, 50)), "ask_p95_ms": float(np.percentile(a, 95)),
        "ask_p99_ms": float(np.percentile(a, 99)), "hit1_squad": h_squad, "hit1_seed": h_seed,
        "other_kind": "ivfpq" if chosen == "flat" else "flat", "other_build_s": other_s,
        "other_ask_p50_ms": float(np.percentile(b, 50)), "other_ask_p95_ms": float(np.percentile(b, 95)),
        "other_hit1_squad": x_squad, "other_hit1_seed": x_seed,
        "exact_search_ms_p50": statistics.median(exact_ms),
        "ivfpq_search_ms_p50": statistics.median(approx_ms),
        "ivfpq_recall_at_10": float(np.mean(recalls)),
        "add_one_ms": add_ms, "add_save_ms": add_save_ms,
        "remove_one_ms": remove_ms, "remove_save_ms": remove_save_ms,
    }


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "eval.bench.scale", "--child", *args],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"scale step {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plot(rows: list[dict], path: Path) -> None:
    """The scale figure (latency, memory, disk against articles)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["articles"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, label in (("flat", "exact"), ("ivfpq", "IVF-PQ")):
        a1.plot(n, [by_kind(r, kind, "ask_p50_ms") for r in rows], "o-", label=f"ask p50, {label}")
        a1.plot(n, [by_kind(r, kind, "ask_p95_ms") for r in rows], "o--", label=f"ask p95, {label}")
    a1.plot(n, [r["exact_search_ms_p50"] for r in rows], "s-", label="exact sentence search p50")
    a1.plot(n, [r["ivfpq_search_ms_p50"] for r in rows], "^-", label="IVF-PQ search p50")
    a1.set(xscale="log", yscale="log", xlabel="articles", ylabel="ms", title="Query latency")
    a1.legend(fontsize=8)
    a2.plot(n, [r["serve_rss_mb"] for r in rows], "o-", label="serving (RSS after open)")
    a2.plot(n, [r["build_peak_rss_mb"] for r in rows], "s--", label="build (peak RSS)")
    a2.plot(n, [r["disk_mb"] for r in rows], "^-", label="on disk")
    a2.set(xscale="log", yscale="log", xlabel="articles", ylabel="MB", title="Memory and disk")
    a2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def by_kind(r: dict, kind: str, key: str) -> float:
    """A figure of the engine with the ``flat`` or ``ivfpq`` vector index, whichever was default."""
    return r[key] if r["index_kind"] == kind else r[f"other_{key}"]


def table(rows: list[dict]) -> str:
    """The scale table as Markdown lines."""
    lines = [
        "| articles | sentence rows | build s | save s | disk MB | open s | RSS serving MB "
        "| default index | ask p50 / p95 ms, exact | ask p50 / p95 ms, IVF-PQ "
        "| hit@1 SQuAD / seed, exact | hit@1 SQuAD / seed, IVF-PQ | sentence search ms, exact / IVF-PQ "
        "| IVF-PQ recall@10 | add+save one / remove+save one, ms |",
        "|" + "---|" * 15,
    ]
    for r in rows:
        cells = [
            f"{r['articles']:,}", f"{r['sentences']:,}", f"{r['build_s']:.0f}", f"{r['save_s']:.1f}",
            f"{r['disk_mb']:.0f}", f"{r['open_s']:.1f}", f"{r['serve_rss_mb']:.0f}",
            "exact" if r["index_kind"] == "flat" else "IVF-PQ",
        ]
        for kind in ("flat", "ivfpq"):
            cells.append(f"{by_kind(r, kind, 'ask_p50_ms'):.1f} / {by_kind(r, kind, 'ask_p95_ms'):.1f}")
        for kind in ("flat", "ivfpq"):
            cells.append(f"{by_kind(r, kind, 'hit1_squad'):.3f} / {by_kind(r, kind, 'hit1_seed'):.3f}")
        cells += [
            f"{r['exact_search_ms_p50']:.2f} / {r['ivfpq_search_ms_p50']:.2f}",
            f"{r['ivfpq_recall_at_10']:.3f}",
            f"{r['add_one_ms'] + r['add_save_ms']:.0f} / {r['remove_one_ms'] + r['remove_save_ms']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``qa bench --scale``: build each size, serve it from disk, measure."""
    ap = argparse.ArgumentParser(prog="qa bench --scale", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    ap.add_argument("--out", type=Path, default=Path("eval/out/scale"))
    ap.add_argument("--serve-only", action="store_true",
                    help="re-measure serving on indexes already built by an earlier run in --out")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        step, n, where = args.child
        data = child_build(int(n), Path(where)) if step == "build" else child_serve(int(n), Path(where))
        print(json.dumps(data))
        return 0
    rows: list[dict] = []
    rows_all: list[dict] = []
    earlier = {}
    if args.serve_only and (args.out / "scale.json").exists():
        earlier = {r["size"]: r for r in json.loads((args.out / "scale.json").read_text())}
    for n in args.sizes:
        where = args.out / f"index-{n}"
        t0 = time.perf_counter()
        if n in earlier and where.exists():
            keep = ("articles", "sentences", "passages", "build_s", "save_s", "disk_mb", "build_peak_rss_mb")
            row = {"size": n, **{k: earlier[n][k] for k in keep}}
        else:
            if where.exists():  # this bench's own library from an earlier run: built anew
                print(f"replacing the earlier run's {where}", flush=True)
                shutil.rmtree(where)
            row = {"size": n, **_child(["build", str(n), str(where)])}
        row.update(_child(["serve", str(n), str(where)]))
        rows.append(row)
        print(f"{n:,} articles done in {time.perf_counter() - t0:.0f} s: {json.dumps(row)}", flush=True)
        # Sizes measured by an earlier run and not by this one stay in the table.
        saved = args.out / "scale.json"
        before = json.loads(saved.read_text()) if saved.exists() else []
        others = [r for r in before if r["size"] not in args.sizes]
        rows_all = sorted(others + rows, key=lambda r: r["size"])
        saved.write_text(json.dumps(rows_all, indent=2))
    rows = rows_all
    plot(rows, args.out / "scale.png")
    print(table(rows))
    print(f"\nwritten: {args.out / 'scale.json'}, {args.out / 'scale.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
