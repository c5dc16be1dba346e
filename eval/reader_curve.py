"""Quality and latency against how many candidates the reader reads (``Config.reader_top_k``).

    python -m eval.reader_curve [--limit N] [--out DIR]     (also part of ``qa eval``)

Per SQuAD 2.0 dev article (one index each, as ``qa eval``): every question's candidates are
read once to the largest k, and hit@1 and abstention AUROC are computed for each k from those
readings (the final ranker's features do not depend on k; the abstention model was fitted at
the default k). Latency is ``ask`` itself, timed for each k on the same sample of questions in
interleaved order, so machine noise falls on every k alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from eval.crossfit import POLICY_SETTINGS, policy_of, use_cross_fitted
from eval.metrics import auroc
from eval.squad import CACHE, SQUAD2_DEV, contains_answer, load_articles
from index.config import Config
from index.embed import CachedEmbedder, Embedder
from qa.abstain import abstention_features
from qa.answer import make_citation
from qa.rerank import as_if_read, final_probs, read_top, reader_abstain_features
from qa.retrieve import retrieve
from qa.service import ABSTAIN_WITH_READER, QAService

# Fixed k (read the best k), and the default of Config (read the best `reader_first_k`, and up
# to `reader_top_k` when none of those holds an answer), keyed by name.
POLICIES: dict[str, tuple[int, int, float]] = {str(k): (k, k, 0.0) for k in (0, 1, 2, 4, 8, 16)}
POLICIES["default"] = policy_of(Config())
KS = tuple(POLICIES)


def default_label() -> str:
    """The default policy in words, e.g. "default: best 2" or "default: 2, up to 16 when unsure"."""
    top, first, _ = POLICIES["default"]
    return f"default: best {top}" if top <= first else f"default: {first}, up to {top} when unsure"


def reader_curve(limit: int | None, latency_questions: int = 40, progress: bool = True) -> dict[str, dict]:
    """hit@1, AUROC and ask latency against how many candidates the reader reads."""
    embedder, plain = CachedEmbedder(CACHE / "embeddings.npz"), Embedder()
    hits: dict[str, list[bool]] = {k: [] for k in KS}
    conf: dict[str, list[float]] = {k: [] for k in KS}
    reads: dict[str, list[int]] = {k: [] for k in KS}
    labels: list[int] = []
    times: dict[str, list[float]] = {k: [] for k in KS}
    for n, art in enumerate(load_articles(SQUAD2_DEV, limit), 1):
        svc = QAService()
        use_cross_fitted(svc, art.title)
        svc.index.embedder = embedder
        svc.add_document(art.text, doc_id=art.title[:200].replace("/", "_"))
        svc.index.embedder = plain
        lexical = QAService(svc.index, reader_top_k=0)
        index = svc.index
        for q in art.questions:
            vec = svc.embed_questions([q.question])[0]  # as ask embeds it (the question encoder)
            c = retrieve(index, vec, q.question)
            labels.append(int(not q.impossible))
            if not len(c.rows):
                for k in KS:
                    conf[k].append(0.0)
                    hits[k].append(False)
                continue
            probs = svc.reranker.predict(c.features)
            text_of = lambda i, rows=c.rows, s=index.sentences: s[int(rows[i])].text  # noqa: E731
            read = read_top(svc.reader, q.question, text_of, probs, max(p[0] for p in POLICIES.values()))
            base = abstention_features(c, probs)
            for k in KS:
                if POLICIES[k][0] == 0:
                    reads[k].append(0)
                    final = probs
                    conf[k].append(float(lexical.score(q.question, c).confidence))
                else:
                    rk = as_if_read(read, *POLICIES[k])
                    reads[k].append(len(rk.positions))
                    final = final_probs(probs, rk, svc.final.predict(rk.features))
                    feats = dict(base)
                    feats.update(reader_abstain_features(final, rk))
                    row = np.asarray([[feats[f] for f in ABSTAIN_WITH_READER]])
                    conf[k].append(float(svc.abstainer.predict(row)[0]))
                top = int(c.rows[int(np.argmax(final))])
                quote = make_citation(index, top, 0).quote
                hits[k].append(not q.impossible and contains_answer(quote, q.answers))
        sample = [q.question for q in art.questions[:latency_questions]]
        services = {k: QAService(index, overrides=dict(zip(POLICY_SETTINGS, p))) for k, p in POLICIES.items()}
        for question in sample:
            for k in KS:
                t = time.perf_counter()
                services[k].ask(question)
                times[k].append((time.perf_counter() - t) * 1000)
        if progress:
            print(f"\r  reader k-curve: {n} article(s)", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    embedder.save()
    lab = np.asarray(labels)
    out = {}
    for k in KS:
        h = np.asarray(hits[k])
        out[k] = {
            "read_mean": float(np.mean(reads[k])) if reads[k] else 0.0,
            "hit@1": float(h[lab == 1].mean()),
            "abstain_auroc": auroc(1 - lab, -np.asarray(conf[k])),
            "ask_ms_p50": float(np.percentile(times[k], 50)),
            "ask_ms_p95": float(np.percentile(times[k], 95)),
        }
    return out


def curve_lines(curve: dict[str, dict]) -> list[str]:
    """The curve as Markdown table lines."""
    lines = [
        "| reading | candidates read (mean) | hit@1 | abstention AUROC | ask p50 ms | ask p95 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k, m in curve.items():
        name = default_label() if k == "default" else f"best {k}"
        lines.append(f"| {name} | {m['read_mean']:.2f} | {m['hit@1']:.3f} | {m['abstain_auroc']:.3f} | "
                     f"{m['ask_ms_p50']:.1f} | {m['ask_ms_p95']:.1f} |")
    return lines


def plot_curve(curve: dict[str, dict], path: Path) -> Path:
    """The curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [k for k in curve if k.isdigit()]
    x = [curve[k]["read_mean"] for k in ks]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(x, [curve[k]["hit@1"] for k in ks], marker="o", label="evidence hit@1, best k")
    a.plot(x, [curve[k]["abstain_auroc"] for k in ks], marker="s", label="abstention AUROC, best k")
    b.plot(x, [curve[k]["ask_ms_p50"] for k in ks], marker="o", label="p50, best k")
    b.plot(x, [curve[k]["ask_ms_p95"] for k in ks], marker="s", label="p95, best k")
    if "default" in curve:
        d = curve["default"]
        a.scatter([d["read_mean"]] * 2, [d["hit@1"], d["abstain_auroc"]], color="red", zorder=3,
                  label=default_label())
        b.scatter([d["read_mean"]] * 2, [d["ask_ms_p50"], d["ask_ms_p95"]], color="red", zorder=3,
                  label=default_label())
    a.set_xlabel("candidates read per question (0 = no reader)")
    a.set_title("Quality against reading (SQuAD 2.0 dev)")
    a.legend(fontsize=7)
    b.set_xlabel("candidates read per question")
    b.set_ylabel("ask latency, ms")
    b.set_title("Latency against k")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.reader_curve``: the reader's curve alone."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("eval/out"))
    args = ap.parse_args(argv)
    curve = reader_curve(args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    print("\n".join(curve_lines(curve)))
    print(f"wrote {plot_curve(curve, args.out / 'reader-k.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
