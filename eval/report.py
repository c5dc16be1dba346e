"""The eval report: a terminal table, report.json, report.md and PNG plots, all from the same
metric dicts."""

from __future__ import annotations

import json
import math
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

TABLE_METRICS = (
    "hit@1",
    "hit@3",
    "mrr",
    "answered_hit@1",
    "key_fact_recall",
    "answer_contains_gold",
    "short_em",
    "short_f1",
    "short_given",
    "first_citation_chars",
    "cited_chars_per_answer",
    "citation_recall",
    "citation_precision",
    "citation_validity",
    "abstain_precision",
    "abstain_recall",
    "false_abstention",
    "abstain_auroc",
    "latency_ms_p50",
    "latency_ms_p95",
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"
    return str(v)


def table_lines(results: dict, markdown: bool = False) -> list[str]:
    """A suite's systems side by side, as Markdown table lines."""
    lines: list[str] = []
    for suite, systems in results.items():
        names = list(systems)
        first = systems[names[0]]["metrics"]
        title = (
            f"{suite}: {first['questions']} questions ({first['answerable']} answerable, "
            f"{first['unanswerable']} unanswerable)"
        )
        if markdown:
            lines += [
                f"### {title}",
                "",
                "| metric | " + " | ".join(names) + " |",
                "|---|" + "---:|" * len(names),
            ]
        else:
            lines += ["", title, f"{'metric':<24}" + "".join(f"{n:>20}" for n in names)]
        for m in TABLE_METRICS:
            vals = [_fmt(systems[n]["metrics"].get(m, float("nan"))) for n in names]
            if markdown:
                lines.append(f"| {m} | " + " | ".join(vals) + " |")
            else:
                lines.append(f"{m:<24}" + "".join(f"{v:>20}" for v in vals))
        lines.append("")
    return lines


def kind_lines(results: dict, system: str = "engine", markdown: bool = False) -> list[str]:
    """One system's figures per question kind, suite by suite (``metrics_by_kind``)."""
    from eval.metrics import KIND_METRICS

    lines: list[str] = []
    for suite, systems in results.items():
        kinds = systems.get(system, {}).get("by_kind") or {}
        if not kinds:
            continue
        title = f"{suite}, {system}, by question kind"
        if markdown:
            lines += [f"### {title}", "", "| kind | " + " | ".join(KIND_METRICS) + " |",
                      "|---|" + "---:|" * len(KIND_METRICS)]
        else:
            lines += ["", title, f"{'kind':<12}" + "".join(f"{m:>18}" for m in KIND_METRICS)]
        for kind, figures in kinds.items():
            vals = [_fmt(figures[m]) for m in KIND_METRICS]
            lines.append(f"| {kind} | " + " | ".join(vals) + " |" if markdown
                         else f"{kind:<12}" + "".join(f"{v:>18}" for v in vals))
        lines.append("")
    return lines


def print_table(results: dict) -> None:
    """Print the suites' tables, then the engine's figures per question kind, to the terminal."""
    print("\n".join(table_lines(results) + kind_lines(results)))


def _kind_plot(results: dict, out: Path) -> Path | None:
    """hit@1 and false abstentions of the engine per question kind, one panel per suite."""
    import matplotlib.pyplot as plt

    suites = [s for s, systems in results.items() if systems.get("engine", {}).get("by_kind")]
    if not suites:
        return None
    fig, axes = plt.subplots(1, len(suites), figsize=(4.5 * len(suites), 3.8), squeeze=False)
    for ax, suite in zip(axes[0], suites, strict=True):
        kinds = {k: v for k, v in results[suite]["engine"]["by_kind"].items() if v["answerable"]}
        x = np.arange(len(kinds))
        for i, (metric, label) in enumerate((("hit@1", "hit@1"), ("false_abstention", "refused"))):
            ax.bar(x + (i - 0.5) * 0.4, [v[metric] for v in kinds.values()], 0.4, label=label)
        ax.set_xticks(x, [f"{k}\n{v['answerable']}" for k, v in kinds.items()], fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(f"{suite}: by question kind (n answerable)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "kinds.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plots(results: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for suite, systems in results.items():
        names = list(systems)
        metrics = ["hit@1", "hit@3", "mrr"]
        fig, ax = plt.subplots(figsize=(7.5, 4))
        width = 0.8 / len(names)
        for i, n in enumerate(names):
            vals = [systems[n]["metrics"][m] for m in metrics]
            ax.bar(np.arange(len(metrics)) + i * width, vals, width, label=n)
        ax.set_xticks(np.arange(len(metrics)) + width * (len(names) - 1) / 2, metrics)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of answerable questions")
        ax.set_title(f"Evidence retrieval — {suite}")
        ax.legend(fontsize=8, loc="upper center", ncol=len(names), bbox_to_anchor=(0.5, -0.08), frameon=False)
        fig.tight_layout()
        paths.append(out / f"bars_{suite}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

        rows = systems["engine"]["rows"]
        unans = np.array([not r["answerable"] for r in rows])
        conf = np.array([r["confidence"] for r in rows])
        if unans.any() and (~unans).any():
            # precision-recall of abstaining (positive = unanswerable), sweeping the threshold
            ts = np.unique(np.concatenate([conf, [conf.max() + 1e-9]]))
            prec, rec = [], []
            for t in ts:
                abst = conf < t
                if abst.any():
                    prec.append(float((abst & unans).sum() / abst.sum()))
                    rec.append(float((abst & unans).sum() / unans.sum()))
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.plot(rec, prec, lw=1.5)
            default = np.array([r["abstained"] for r in rows])
            if default.any():
                ax.scatter(
                    [(default & unans).sum() / unans.sum()],
                    [(default & unans).sum() / default.sum()],
                    color="red",
                    zorder=3,
                    label="default threshold",
                )
                ax.legend()
            ax.set_xlabel("recall (unanswerable questions abstained)")
            ax.set_ylabel("precision of abstaining")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"Abstention — {suite}")
            fig.tight_layout()
            paths.append(out / f"abstention_pr_{suite}.png")
            fig.savefig(paths[-1], dpi=110)
            plt.close(fig)

            bins = np.linspace(0, 1, 11)
            idx = np.clip(np.digitize(conf, bins) - 1, 0, 9)
            xs, ys, ns = [], [], []
            for b in range(10):
                sel = idx == b
                if sel.any():
                    xs.append(conf[sel].mean())
                    ys.append((~unans[sel]).mean())
                    ns.append(int(sel.sum()))
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
            ax.plot(xs, ys, marker="o")
            for x, y, n in zip(xs, ys, ns):
                ax.annotate(str(n), (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
            ax.set_xlabel("confidence")
            ax.set_ylabel("share actually answerable")
            ax.set_title(f"Reliability of the confidence — {suite}")
            fig.tight_layout()
            paths.append(out / f"reliability_{suite}.png")
            fig.savefig(paths[-1], dpi=110)
            plt.close(fig)
    return paths


def write_report(results: dict, out: Path, run_info: dict, extra_md: list[str] | None = None) -> list[Path]:
    """Write report.json, report.md and the PNG plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    info = {
        **run_info,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    data = {
        "run": info,
        "results": {
            suite: {n: {"metrics": s["metrics"], "by_kind": s.get("by_kind", {}), "rows": s["rows"]}
                    for n, s in systems.items()}
            for suite, systems in results.items()
        },
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    plots = _plots(results, out)
    kinds_png = _kind_plot(results, out)
    plots += [kinds_png] if kinds_png else []
    md = [
        "# Grounding eval report",
        "",
        f"Run {info['date']} on {info['machine']}; suites {', '.join(results)}.",
        "",
        *table_lines(results, markdown=True),
        *kind_lines(results, markdown=True),
    ]
    md += [f"![{p.stem}]({p.name})" for p in plots]
    if extra_md:
        md += ["", *extra_md, "", "![reader-k](reader-k.png)"]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return [json_path, md_path, *plots]
