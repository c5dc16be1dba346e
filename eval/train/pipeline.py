"""Fit the re-ranker, the final ranker and the abstention models on SQuAD v1.1 *train* articles.

    python -m eval.train [--articles 200] [--reader] [--encoder] [--squad2-abstain]
                         [--low-overlap-weight 1]

``--reader`` first fine-tunes the reading model itself (``eval.train.reader``, on other train
articles; about 3 h on 2 cores when nothing else runs; then ``eval.train.squad2_reader`` on the
public SQuAD 2.0 split, cross-fitted by article, about an hour), ``--encoder`` the library's encoder
(``eval.train.encoder``, the same articles; about an hour); without them the shipped
``qa/models/reader.*`` and ``index/models/encoder.*`` are used.

Nothing is fitted on the seed article. The public SQuAD 2.0 split (the benchmark) is used only
by ``--squad2-abstain`` and by the reader's last stage (``eval.train.squad2_reader``), and then
cross-fitted by article: what ``qa eval`` reports on an article comes from models that never saw
its half of the split.
Each train article is indexed with 30 % of its paragraphs removed; questions about removed
paragraphs become unanswerable near-topic questions (same article, the fact is gone). The
articles are split three ways: the re-ranker is fitted on 60 %, the abstention model and its
threshold on 20 %, and both are reported on the last 20 %.

* Re-ranker (``eval/train/fit_rerank.py``): candidates come from the engine's own hybrid retrieval;
  a candidate is positive when it lies in the question's paragraph and holds a gold answer.
* Final ranker (``eval/train/fit_reading.py``): the reader reads each question's best candidates;
  a small model combines the re-ranker's score with the reader's evidence.
* Abstention: logistic regression on question-level evidence, with the reader's
  (``abstainer.json``) and without (``abstainer-lexical.json``, for ``reader_top_k=0``);
  label = answerable.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval.crossfit import XFIT_DIR
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import fit_reranker, hit_at_1, run_article
from eval.train.reader_data import LOW_OVERLAP
from index.config import Config
from index.embed import CachedEmbedder
from qa.abstain import ABSTAIN_FEATURES
from qa.models import MODEL_DIR, ScoringModel


def fit_abstainer(x: np.ndarray, y: np.ndarray, with_reader: bool = False) -> ScoringModel:
    """Fit the abstention model and its threshold on rows of features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from eval.train.fit_reading import ABSTAIN_WITH_READER

    names = list(ABSTAIN_WITH_READER if with_reader else ABSTAIN_FEATURES)
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x), y)
    return ScoringModel.from_sklearn(scaler, clf, names, {"kind": "logistic"})


MAX_FALSE_ABSTENTION = 0.10


def best_threshold(conf: np.ndarray, answerable: np.ndarray) -> float:
    """The highest threshold that refuses at most ``MAX_FALSE_ABSTENTION`` of the answerable
    questions: a wrong refusal hides an answer the article has, while a wrong answer still
    shows its quote for the reader to check, so refusals are kept rare."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    ok = [t for t in grid if np.mean(conf[answerable == 1] < t) <= MAX_FALSE_ABSTENTION]
    return float(max(ok)) if ok else float(grid[0])


def threshold_table(conf: np.ndarray, answerable: np.ndarray) -> list[dict[str, float]]:
    """Refusals of answerable and unanswerable questions at a few thresholds."""
    return [
        {
            "threshold": float(t),
            "unanswerable_abstained": float(np.mean(conf[answerable == 0] < t)),
            "false_abstention": float(np.mean(conf[answerable == 1] < t)),
        }
        for t in np.round(np.arange(0.3, 0.91, 0.05), 2)
    ]


def train_runs(articles: int, questions: int, hold_out: float, embedder: CachedEmbedder) -> list:
    """The first ``articles`` SQuAD v1.1 train articles of the fixed shuffle, each indexed with
    ``hold_out`` of its paragraphs removed and up to ``questions`` answerable questions (and
    half as many unanswerable ones) asked of it: the rows every fit here starts from."""
    t = time.time()
    pool = load_articles(SQUAD11_TRAIN)
    random.Random(0).shuffle(pool)
    runs = []
    for i, art in enumerate(pool[:articles]):
        art = hold_out_paragraphs(art, hold_out, seed=i)
        runs.append(run_article(art, embedder, questions, questions // 2))
        print(f"\r  train articles indexed: {i + 1}/{articles}", end="", flush=True)
    embedder.save()
    print(f"  ({time.time() - t:.0f}s)")
    return runs


def split_runs(runs: list) -> tuple[list, list, list]:
    """Three disjoint groups of articles: report (20 %), select / fit the abstainer (20 %), fit
    the re-ranker and the final ranker (60 %)."""
    n = max(len(runs) // 5, 1)
    return runs[:n], runs[n : 2 * n], runs[2 * n :]


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.train``: fit the re-ranker, final ranker and abstainers (and, when asked,
    the reader and the encoder)."""
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=200, help="SQuAD v1.1 train articles to use")
    ap.add_argument("--questions", type=int, default=60, help="answerable questions per article")
    ap.add_argument("--hold-out", type=float, default=0.3, help="share of paragraphs removed")
    ap.add_argument("--out", type=Path, default=MODEL_DIR, help="where to write the model files")
    ap.add_argument("--reader", action="store_true", help="first fine-tune the reading model")
    ap.add_argument("--encoder", action="store_true", help="first fine-tune the library's encoder")
    ap.add_argument("--low-overlap-weight", type=float, default=1.0,
                    help="weight in the re-ranker's fit of questions asked in other words than "
                    f"their answer sentence (overlap <= {LOW_OVERLAP})")
    ap.add_argument("--squad2-abstain", action="store_true",
                    help="also fit abstention on the public SQuAD 2.0 split, cross-fitted by article")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.reader:
        from eval.train import reader as train_reader

        for steps, lr, anchored in train_reader.SCHEDULE:  # as shipped: each run extends the last
            train_reader.main(["--steps", str(steps), "--lr", str(lr), "--out", str(args.out),
                               *(["--teacher", str(args.out), *anchored] if anchored else [])])
        train_squad2(args.out)
    if args.encoder:  # written where the library's embedder loads it (index/models)
        from eval.train import encoder as train_encoder

        for run in train_encoder.SCHEDULE:  # as shipped: each run resumes the last's checkpoint
            train_encoder.main(list(run))
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    runs = train_runs(args.articles, args.questions, args.hold_out, embedder)
    report, select, fit = split_runs(runs)
    reranker = fit_reranker(fit, select, args.low_overlap_weight)
    reranker.info["report_hit_at_1"] = round(hit_at_1(report, reranker), 4)
    print(f"  re-ranker hit@1 on {len(report)} report articles = {reranker.info['report_hit_at_1']}")
    (args.out / "reranker.json").write_text(reranker.to_json(), encoding="utf-8")

    from eval.crossfit import policy_of
    from eval.train.fit_reading import abstention_rows as reading_rows
    from eval.train.fit_reading import final_hit_at_1, fit_final, fixed, read_runs
    from qa.reader import Reader

    precision = Config().reader_precision  # the features as the engine will compute them
    reader = Reader(args.out if (args.out / "reader.json").exists() else MODEL_DIR, precision=precision)
    if reader.info.get("squad2_halves") and not args.squad2_abstain:
        # qa eval's cross-fitted reader needs its final ranker fitted with this re-ranker
        print("  the reader was trained on the public SQuAD 2.0 split too: --squad2-abstain is implied")
        args.squad2_abstain = True
    k = policy_of(Config())
    t = time.time()
    rr_select, rr_fit, rr_report = (read_runs(r, reranker, reader, k) for r in (select, fit, report))
    print(f"  read as {k} (top_k, first_k, more_below) ({time.time() - t:.0f}s)")
    final = fit_final(rr_fit, rr_select, k)
    curve = {"re-ranker only": round(final_hit_at_1(rr_report, None, fixed(0)), 4),
             "with the reader": round(final_hit_at_1(rr_report, final, k), 4)}
    print(f"  hit@1 on {len(report)} report articles: {curve}")
    final.info.update({"report_hit_at_1": curve, "report_articles": len(report)})
    (args.out / "final.json").write_text(final.to_json(), encoding="utf-8")

    for name, model in (("abstainer-lexical", None), ("abstainer", final)):
        x, answerable = reading_rows(rr_select, model, k)
        abstainer = fit_abstainer(x, answerable, model is not None)
        threshold = best_threshold(abstainer.predict(x), answerable)
        xr, ar = reading_rows(rr_report, model, k)
        conf = abstainer.predict(xr)
        auroc = float(roc_auc_score(ar, conf))
        abstained = float(np.mean(conf[ar == 0] < threshold))
        false_abst = float(np.mean(conf[ar == 1] < threshold))
        print(
            f"  {name} on report articles: AUROC {auroc:.3f}, threshold {threshold:.2f}, "
            f"unanswerable abstained {abstained:.3f}, false abstention {false_abst:.3f}"
        )
        abstainer.info.update(
            {
                "fitted_on": f"SQuAD v1.1 train, {len(select)} articles with {args.hold_out:.0%} of "
                "paragraphs removed; label = the indexed text holds the answer",
                "threshold": threshold,
                "threshold_rule": f"highest with at most {MAX_FALSE_ABSTENTION:.0%} false abstentions "
                "on the fitting articles",
                "report_threshold_table": threshold_table(conf, ar),
                "report_articles": len(report),
                "report_auroc": round(auroc, 4),
                "report_unanswerable_abstained": round(abstained, 4),
                "report_false_abstention": round(false_abst, 4),
            }
        )
        (args.out / f"{name}.json").write_text(abstainer.to_json(), encoding="utf-8")
    if args.squad2_abstain:
        x_sel, y_sel = reading_rows(rr_select, final, k)
        fit_abstainer_with_squad2(x_sel, y_sel, reranker, final, reader, embedder, args.out,
                                  (select, fit), k)
    embedder.save()
    print(f"  wrote {args.out}/reranker.json, final.json, abstainer.json and abstainer-lexical.json")
    return 0


def train_squad2(out: Path) -> None:
    """The last stage of ``--reader``: the reader ``eval.train.reader`` wrote to ``out`` becomes
    the base (``eval/models/reader-base.*``) that ``eval.train.squad2_reader`` trains on each half
    of the public SQuAD 2.0 split and on both (written to ``out``), from rows the engine reads anew."""
    import shutil

    from eval.train import squad2_reader as train_squad2_reader

    XFIT_DIR.mkdir(exist_ok=True)
    for ext in ("safetensors", "json"):
        shutil.copyfile(out / f"reader.{ext}", XFIT_DIR / f"{train_squad2_reader.BASE}.{ext}")
    (train_squad2_reader.WORK / "rows.json").unlink(missing_ok=True)  # read by the old base
    for half in ("0", "1"):  # to eval/models/reader-xfit-*
        train_squad2_reader.main(["--half", half])
    train_squad2_reader.main(["--half", "all", "--out", str(out)])
# the abstention rows of the last fit (train select articles, SQuAD 2.0 split with its halves),
# kept to try other abstention models without re-reading every question
ABSTAIN_ROWS = Path(__file__).resolve().parents[2] / "artifacts" / "abstain-rows.npz"


def cross_fitted_reading(h: int, reranker, reader, runs: tuple, k) -> tuple:
    """When the shipped reader was trained on the public SQuAD 2.0 split too
    (``eval.train.squad2_reader``), the reader ``qa eval`` uses on half ``h`` of it (trained
    without that half), a final ranker fitted anew on its reading of the train articles
    (``eval/models/final-xfit-<h>.json``, used with it) and the train select articles'
    abstention rows as the two read them."""
    from eval.train.fit_reading import abstention_rows, fit_final, read_runs
    from qa.reader import Reader

    select, fit = runs
    reader_h = Reader(XFIT_DIR, f"reader-xfit-{h}", precision=reader.precision)
    rr_select, rr_fit = (read_runs(r, reranker, reader_h, k) for r in (select, fit))
    final_h = fit_final(rr_fit, rr_select, k)
    final_h.info["for_half"] = h
    (XFIT_DIR / f"final-xfit-{h}.json").write_text(final_h.to_json(), encoding="utf-8")
    return reader_h, final_h, abstention_rows(rr_select, final_h, k)


def fit_abstainer_with_squad2(x_sel, y_sel, reranker, final, reader, embedder, out: Path,
                              runs: tuple, k) -> None:
    """The abstention model fitted on the train articles' questions *and* the public SQuAD 2.0
    split's (whose unanswerable questions were written to look answerable), cross-fitted by
    article: the model for each half of the split is fitted without that half
    (``eval/models/abstainer-xfit-<half>.json``, used by ``qa eval`` on that half), on the
    features of the reader and final ranker ``qa eval`` uses there (:func:`cross_fitted_reading`),
    and every figure reported on the split comes from those. The shipped model is fitted on all
    of it. ``runs``: the train select and fit articles."""
    from sklearn.metrics import roc_auc_score

    from eval.train.fit_reading import squad2_rows

    x2, y2, h2 = squad2_rows(reranker, final, reader, embedder)
    ABSTAIN_ROWS.parent.mkdir(exist_ok=True)
    np.savez(ABSTAIN_ROWS, x_sel=x_sel, y_sel=y_sel, x2=x2, y2=y2, h2=h2)
    XFIT_DIR.mkdir(exist_ok=True)
    figures = {}
    for h in (0, 1):
        if not reader.info.get("squad2_halves"):  # the shipped reader and final ranker never saw it
            xs_h, ys_h, xo, yo, xh, yh = x_sel, y_sel, x2[h2 != h], y2[h2 != h], x2[h2 == h], y2[h2 == h]
        else:
            reader_h, final_h, (xs_h, ys_h) = cross_fitted_reading(h, reranker, reader, runs, k)
            xo, yo, _ = squad2_rows(reranker, final_h, reader_h, embedder, half=1 - h)
            xh, yh, _ = squad2_rows(reranker, final_h, reader_h, embedder, half=h)
        xa, ya = np.vstack([xs_h, xo]), np.concatenate([ys_h, yo])
        model = fit_abstainer(xa, ya, True)
        threshold = best_threshold(model.predict(xa), ya)
        conf = model.predict(xh)
        figures[f"half_{h}"] = {
            "questions": int(len(yh)),
            "auroc": round(float(roc_auc_score(yh, conf)), 4),
            "unanswerable_abstained": round(float(np.mean(conf[yh == 0] < threshold)), 4),
            "false_abstention": round(float(np.mean(conf[yh == 1] < threshold)), 4),
        }
        model.info.update({"threshold": threshold, "for_half": h,
                           "fitted_on": "train select articles + the other half of the public SQuAD 2.0"})
        (XFIT_DIR / f"abstainer-xfit-{h}.json").write_text(model.to_json(), encoding="utf-8")
        print(f"  SQuAD 2.0 half {h}, abstainer fitted without it: {figures[f'half_{h}']}")
    xa, ya = np.vstack([x_sel, x2]), np.concatenate([y_sel, y2])
    model = fit_abstainer(xa, ya, True)
    threshold = best_threshold(model.predict(xa), ya)
    model.info.update({
        "fitted_on": f"SQuAD v1.1 train select articles ({len(y_sel)} questions) + the public SQuAD 2.0 "
        f"split ({len(y2)} questions); label = the indexed text holds the answer",
        "threshold": threshold,
        "threshold_rule": f"highest with at most {MAX_FALSE_ABSTENTION:.0%} false abstentions on the "
        "fitting questions",
        "squad2_public": True,
        "squad2_cross_fitted": figures,
    })
    (out / "abstainer.json").write_text(model.to_json(), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
