"""Benchmarks: cold start, ingest throughput, warm query latency and peak memory, for the engine
and for the plain LlamaIndex query path (VectorStoreIndex + FAISS + the same model, retrieval
only), each against the bare model in the same run.

    qa bench [--repeats 3] [--out eval/out/bench]      (or: python -m eval.bench.compare)

Every phase runs in a child process of its own, so peak RSS is that phase's alone; figures are
medians with min-max over ``--repeats`` runs. Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench.latency import interleaved_ms

INGEST_ARTICLES = 40  # the seed article plus 39 SQuAD paragraphs


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: getrusage's ru_maxrss would carry the parent's peak
    over exec on Linux)."""
    return status_mb("VmHWM")


def status_mb(field: str) -> float:
    """A field of /proc/self/status (VmHWM, VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _questions() -> list[str]:
    from eval.seed_set import load_seed_set

    return [q["question"] for q in load_seed_set()["questions"]]


def _ingest_texts() -> dict[str, str]:
    from eval.bench.corpus import articles
    from index.settings import seeds_dir

    seed = next(p for p in sorted(seeds_dir().glob("*")) if p.suffix in {".txt", ".md", ".html"})
    from index.loaders import load_path

    texts = {"seed": load_path(seed).text}
    # Paragraphs far into the corpus shuffle: not in any embedding cache, not that it matters here.
    for art in articles(INGEST_ARTICLES - 1 + 5000):
        if int(art.doc_id[1:]) >= 5000:
            texts[art.doc_id] = art.text
    return texts


# -- phases, each run in its own process ------------------------------------------------------
def phase_cold(system: str, index_dir: str) -> dict:
    """From process start (measured by the parent) to the first answer on a saved index."""
    question = "Why did the ceasefire talks stall?"
    t0 = time.perf_counter()
    if system == "engine":
        from qa.service import QAService

        svc = QAService.open(index_dir)
        t1 = time.perf_counter()
        svc.ask(question)
    elif system == "llamaindex":
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.vector_stores.faiss import FaissVectorStore

        from index.embed import Embedder, llama_embedding

        store = FaissVectorStore.from_persist_dir(index_dir)
        ctx = StorageContext.from_defaults(vector_store=store, persist_dir=index_dir)
        embed = llama_embedding(Embedder())
        index = load_index_from_storage(ctx, embed_model=embed)
        t1 = time.perf_counter()
        index.as_retriever(similarity_top_k=2, embed_model=embed).retrieve(question)
    else:  # the bare model: import sentence-transformers, load, embed the question
        from index.settings import set_offline

        set_offline()
        from sentence_transformers import SentenceTransformer

        from index.embed import bundled_model_path

        model = SentenceTransformer(bundled_model_path(), device="cpu", local_files_only=True)
        t1 = time.perf_counter()
        model.encode([question], normalize_embeddings=True)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "first_s": t2 - t1, "rss_mb": _rss_mb()}


def phase_ingest(system: str, texts_file: str) -> dict:
    """Article sentences per second, embedded and indexed, from texts already in memory
    (written by the parent, so this process never holds the SQuAD file they came from)."""
    from index.embed import Embedder, load_model
    from index.split import split_sentences

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    sentences = sum(len(split_sentences(d, t)) for d, t in texts.items())
    embedder = Embedder()
    embedder.encode(["warm up"])
    t0 = time.perf_counter()
    if system == "engine":
        from index.store import ArticleIndex

        index = ArticleIndex(embedder=embedder)
        index.add_documents([(t, d, None, "") for d, t in texts.items()])
        embedded = len(index.sentences) + len(index.passages)
    elif system == "llamaindex":
        from eval.systems import plain_llamaindex

        index = plain_llamaindex(texts, embedder)
        embedded = index.vector_store.client.ntotal
    else:  # the bare model on exactly the texts the engine embeds
        from index.config import Config
        from index.split import make_passages

        cfg = Config()
        units = []
        for d, t in texts.items():
            ss = split_sentences(d, t)
            units += [s.text for s in ss]
            units += [p.text for p in make_passages(ss, t, cfg.passage_sentences, cfg.passage_overlap)]
        t0 = time.perf_counter()
        load_model().encode(units, batch_size=embedder.batch_size, normalize_embeddings=True)
        embedded = len(units)
    dt = time.perf_counter() - t0
    return {"sentences_per_s": sentences / dt, "texts_embedded": embedded, "seconds": dt,
            "rss_mb": _rss_mb()}


def phase_query(system: str, repeats: int) -> dict:
    """Warm latency per question, interleaved with embedding the question alone."""
    from index.embed import Embedder

    questions = _questions()
    embedder = Embedder()
    if system == "engine":
        from qa.service import QAService

        svc = QAService.from_seeds()
        svc.index.embedder = embedder
        run = svc.ask
    else:
        from eval.systems import plain_llamaindex
        from index.embed import llama_embedding

        texts = {d.doc_id: d.text for d in _seed_documents()}
        index = plain_llamaindex(texts, embedder)
        run = index.as_retriever(similarity_top_k=2, embed_model=llama_embedding(embedder)).retrieve
    a, e = interleaved_ms(run, embedder, questions, repeats)
    out = {f"p{p}_ms": float(np.percentile(a, p)) for p in (50, 95, 99)}
    out.update({f"embed_p{p}_ms": float(np.percentile(e, p)) for p in (50, 95, 99)})
    out["ratio_p50"] = out["p50_ms"] / out["embed_p50_ms"]
    out["ratio_p95"] = out["p95_ms"] / out["embed_p95_ms"]
    out["rss_mb"] = _rss_mb()
    return out


def _seed_documents():
    from qa.service import QAService

    return QAService.from_seeds().documents()


# -- the parent: run the phases, summarise -----------------------------------------------------
def _child(args: list[str]) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "eval.bench.compare", "--phase", *args],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"bench phase {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _prepare(workdir: Path) -> tuple[str, str]:
    """A saved engine index and a persisted LlamaIndex index of the seed article."""
    from eval.systems import plain_llamaindex
    from qa.service import QAService

    svc = QAService.from_seeds()
    engine_dir = svc.save(workdir / "engine")
    index = plain_llamaindex({d.doc_id: d.text for d in svc.documents()}, svc.index.embedder)
    li_dir = workdir / "llamaindex"
    index.storage_context.persist(persist_dir=str(li_dir))
    return str(engine_dir), str(li_dir)


def run(repeats: int, out: Path) -> dict:
    """Run every phase in a child process of its own, ``repeats`` times."""
    results: dict = {"machine": _machine(), "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        engine_dir, li_dir = _prepare(Path(tmp))
        texts_file = Path(tmp) / "ingest.json"
        texts_file.write_text(json.dumps(_ingest_texts()), encoding="utf-8")
        cold: dict[str, list] = {"engine": [], "llamaindex": [], "model": []}
        ingest: dict[str, list] = {"engine": [], "llamaindex": [], "model": []}
        for _ in range(repeats):  # interleaved, so drift hits all three alike
            for system, where in (("engine", engine_dir), ("llamaindex", li_dir), ("model", "")):
                data, wall = _child(["cold", system, where])
                cold[system].append({**data, "wall_s": wall})
            for system in ingest:
                ingest[system].append(_child(["ingest", system, str(texts_file)])[0])
    results["cold_start"] = {
        s: {"to_first_answer_s": _summary([r["wall_s"] for r in runs]),
            "rss_mb": _summary([r["rss_mb"] for r in runs])}
        for s, runs in cold.items()
    }
    results["ingest"] = {
        s: {"sentences_per_s": _summary([r["sentences_per_s"] for r in runs]),
            "texts_embedded": runs[0]["texts_embedded"],
            "rss_mb": _summary([r["rss_mb"] for r in runs])}
        for s, runs in ingest.items()
    }
    query = {s: _child(["query", s, str(repeats)])[0] for s in ("engine", "llamaindex")}
    results["query"] = query
    c, i = results["cold_start"], results["ingest"]
    results["ratios"] = {
        "cold_start_engine_over_model": c["engine"]["to_first_answer_s"]["median"]
        / c["model"]["to_first_answer_s"]["median"],
        "cold_start_llamaindex_over_model": c["llamaindex"]["to_first_answer_s"]["median"]
        / c["model"]["to_first_answer_s"]["median"],
        "ingest_engine_over_model": i["engine"]["sentences_per_s"]["median"]
        / i["model"]["sentences_per_s"]["median"],
        "ingest_llamaindex_over_model": i["llamaindex"]["sentences_per_s"]["median"]
        / i["model"]["sentences_per_s"]["median"],
        "query_engine_over_embed_p50": query["engine"]["ratio_p50"],
        "query_llamaindex_over_embed_p50": query["llamaindex"]["ratio_p50"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    return results


def _machine() -> str:
    import platform

    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name"))
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu or platform.processor()}), {mem:.0f} GiB, "
            f"Python {platform.python_version()}")


def _fmt(s: dict, unit: str = "", digits: int = 2) -> str:
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def report(r: dict) -> str:
    """The benchmark's table and ratios as Markdown lines."""
    c, i, q, x = r["cold_start"], r["ingest"], r["query"], r["ratios"]
    lines = [
        f"Machine: {r['machine']}; medians (min-max) over {r['repeats']} runs.",
        "",
        "| | engine | plain LlamaIndex (retrieval only) | bare model |",
        "|---|---|---|---|",
        f"| cold start to first answer, s | {_fmt(c['engine']['to_first_answer_s'])} | "
        f"{_fmt(c['llamaindex']['to_first_answer_s'])} | {_fmt(c['model']['to_first_answer_s'])} |",
        f"| peak RSS, cold start, MB | {_fmt(c['engine']['rss_mb'], digits=0)} | "
        f"{_fmt(c['llamaindex']['rss_mb'], digits=0)} | {_fmt(c['model']['rss_mb'], digits=0)} |",
        f"| ingest, article sentences/s | {_fmt(i['engine']['sentences_per_s'], digits=1)} | "
        f"{_fmt(i['llamaindex']['sentences_per_s'], digits=1)} | "
        f"{_fmt(i['model']['sentences_per_s'], digits=1)} |",
        f"| texts embedded for {INGEST_ARTICLES} articles | {i['engine']['texts_embedded']} | "
        f"{i['llamaindex']['texts_embedded']} | {i['model']['texts_embedded']} |",
        f"| peak RSS, ingest, MB | {_fmt(i['engine']['rss_mb'], digits=0)} | "
        f"{_fmt(i['llamaindex']['rss_mb'], digits=0)} | {_fmt(i['model']['rss_mb'], digits=0)} |",
        f"| warm query p50 / p95 / p99, ms | {q['engine']['p50_ms']:.1f} / {q['engine']['p95_ms']:.1f} / "
        f"{q['engine']['p99_ms']:.1f} | {q['llamaindex']['p50_ms']:.1f} / {q['llamaindex']['p95_ms']:.1f} / "
        f"{q['llamaindex']['p99_ms']:.1f} | {q['engine']['embed_p50_ms']:.1f} / "
        f"{q['engine']['embed_p95_ms']:.1f} / {q['engine']['embed_p99_ms']:.1f} (embed the question) |",
        f"| peak RSS, queries, MB | {q['engine']['rss_mb']:.0f} | {q['llamaindex']['rss_mb']:.0f} | |",
        "",
        f"Ratios: cold start engine/model {x['cold_start_engine_over_model']:.2f}, "
        f"LlamaIndex/model {x['cold_start_llamaindex_over_model']:.2f}; "
        f"ingest throughput engine/model {x['ingest_engine_over_model']:.2f}, "
        f"LlamaIndex/model {x['ingest_llamaindex_over_model']:.2f}; "
        f"warm query over embedding alone (p50) engine {x['query_engine_over_embed_p50']:.2f}, "
        f"LlamaIndex {x['query_llamaindex_over_embed_p50']:.2f}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``qa bench``: speed and memory, engine against plain LlamaIndex and the bare model."""
    ap = argparse.ArgumentParser(prog="qa bench", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("eval/out/bench"))
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        name, *rest = args.phase
        if name == "cold":
            data = phase_cold(rest[0], rest[1] if len(rest) > 1 else "")
        elif name == "ingest":
            data = phase_ingest(rest[0], rest[1])
        else:
            data = phase_query(rest[0], int(rest[1]))
        print(json.dumps(data))
        return 0
    results = run(args.repeats, args.out)
    print(report(results))
    print(f"\nwritten: {args.out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
