"""Fine-tune the question encoder (``qa/qencoder.py``) from the bundled MiniLM weights.

    python -m eval.train_qencoder [--steps 1500] [--batch 64] [--lr 3e-5] [--low-overlap 1]

Data: the reader's articles (SQuAD v1.1 train articles 200.. of ``eval.train``'s fixed shuffle,
so the re-ranker and abstainer are fitted on articles neither model saw; the first 8 of them
held out for validation). Each question's target is the sentence holding its answer (first
occurrence in its paragraph, the engine's own splitter). The document side is frozen: every
sentence is embedded once by the bundled model (``artifacts/qencoder/sentences.npy``), exactly
the vectors a library holds. The loss is a softmax over, for each batch, every sentence of the
batch's articles (the hard negatives: the same topic, often the same words) and 1,024 sentences
drawn from other articles (so that a question still prefers its own article in a large
library), at scale 20 (cosine x 20, as sentence-transformers' MultipleNegativesRankingLoss).

``--low-overlap W`` draws the questions asked in other words than their answer sentence (it holds
at most a quarter of their content stems, ``eval.reader_data.overlap``; 12 % of them) W times as
often: the questions lexical retrieval cannot find, which only the dense side can.

Checkpoints to ``artifacts/qencoder/`` every ``--save-every`` steps and resumes there. Writes
``qa/models/qencoder.safetensors`` (half precision, no word embeddings) and ``qencoder.json``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.reader_data import LOW_OVERLAP, overlap
from eval.squad import SquadArticle
from index.split import split_sentences

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "qencoder"
SCALE = 20.0
RANDOM_NEGATIVES = 1024
CHECK_QUESTION = "Who did the CIA chief sit down with in Qatar?"


@dataclass(frozen=True)
class Item:
    question: str
    article: int  # index into the article list
    gold: int  # row of the gold sentence in the sentence matrix
    low_overlap: bool = False  # the gold sentence holds at most LOW_OVERLAP of its stems


def gather(arts: list[SquadArticle]) -> tuple[list[str], list[tuple[int, int]], list[Item]]:
    """Sentences of ``arts`` (in article order), each article's row range, and one item per
    answerable question whose answer lies inside one sentence."""
    texts: list[str] = []
    ranges: list[tuple[int, int]] = []
    items: list[Item] = []
    for a, art in enumerate(arts):
        sents = split_sentences("a", art.text)
        lo = len(texts)
        texts.extend(s.text for s in sents)
        ranges.append((lo, len(texts)))
        for q in art.questions:
            if q.impossible or not q.answers:
                continue
            p_lo, p_hi = art.paragraph_spans[q.paragraph]
            pos = art.text.find(q.answers[0], p_lo, p_hi)
            if pos < 0:
                continue
            end = pos + len(q.answers[0])
            gold = [i for i, s in enumerate(sents) if s.start <= pos and end <= s.end]
            if gold:
                low = overlap(q.question, sents[gold[0]].text) <= LOW_OVERLAP
                items.append(Item(q.question, a, lo + gold[0], low))
    return texts, ranges, items


def sentence_vectors(texts: list[str], path: Path) -> np.ndarray:
    """The bundled model's vectors of ``texts`` (what a library stores), cached in ``path``."""
    if path.exists():
        vecs = np.load(path)
        if len(vecs) == len(texts):
            return vecs
    from index.embed import Embedder

    vecs = Embedder().encode(texts, show_progress=True)
    np.save(path, vecs)
    return vecs


def hit_at_1(vectors: np.ndarray, ranges: list[tuple[int, int]], items: list[Item], q: np.ndarray,
             low_only: bool = False) -> float:
    """Share of ``items`` (``low_only``: of those asked in other words) whose gold sentence is
    the nearest of its article's to its vector."""
    hits = []
    for it, v in zip(items, q, strict=True):
        if low_only and not it.low_overlap:
            continue
        lo, hi = ranges[it.article]
        hits.append(lo + int(np.argmax(vectors[lo:hi] @ v)) == it.gold)
    return float(np.mean(hits))


def validate(model, tokenizer, vectors, ranges, items) -> tuple[float, float]:
    """Validation hit@1 on all questions and on those asked in other words."""
    q = encode_all(model, tokenizer, [it.question for it in items])
    return hit_at_1(vectors, ranges, items, q), hit_at_1(vectors, ranges, items, q, low_only=True)


def encode_all(model, tokenizer, texts: list[str], max_length: int | None = None) -> np.ndarray:
    """Unit vectors of ``texts`` with ``model`` (cut to the question encoder's ``MAX_TOKENS``, or
    to ``max_length``)."""
    import torch

    from qa.qencoder import MAX_TOKENS, pooled

    model.eval()
    out = []
    with torch.inference_mode():
        for k in range(0, len(texts), 128):
            enc = tokenizer(texts[k : k + 128], truncation=True, max_length=max_length or MAX_TOKENS,
                            padding=True, return_tensors="pt")
            out.append(pooled(model, dict(enc)).numpy())
    model.train()
    return np.concatenate(out)


def start_or_resume(model, args):
    """AdamW over the trainable weights with a linear schedule (6 % warm-up), resumed from
    ``args.work/checkpoint.pt`` when there is one: ``(params, opt, sched, step, seconds,
    history)``."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * args.steps), args.steps)
    step, seconds, history = 0, 0.0, []
    ckpt = args.work / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, seconds, history = state["step"], state["seconds"], state["history"]
        print(f"resumed at step {step} ({seconds / 60:.1f} min trained)", flush=True)
    return params, opt, sched, step, seconds, history


def checkpoint(model, opt, sched, args, step: int, seconds: float, history: list) -> None:
    """Everything a resume needs, written to a temporary file then moved (never half written)."""
    import torch

    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "step": step, "seconds": seconds, "history": history}, args.work / "checkpoint.tmp")
    (args.work / "checkpoint.tmp").replace(args.work / "checkpoint.pt")


def main(argv: list[str] | None = None) -> int:
    import torch
    from transformers import AutoTokenizer

    from eval.train_reader import articles, optimizer_step, start_training, training_parser
    from index.embed import bundled_model_path
    from qa.qencoder import MODEL_DIR, build_encoder, pooled, tokenize

    ap = training_parser(__doc__.splitlines()[0], steps=1500, batch=64, lr=3e-5, work=ARTIFACTS,
                         out=MODEL_DIR)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--low-overlap", type=float, default=1.0,
                    help=f"how much more often to draw questions whose answer sentence holds at most "
                    f"{LOW_OVERLAP:.0%} of their stems")
    args = ap.parse_args(argv)
    start_training(args)

    t0 = time.time()
    train_arts, val_arts = articles()
    texts, ranges, train = gather(train_arts)
    val_texts, val_ranges, val = gather(val_arts)
    vecs = sentence_vectors(texts, args.work / "sentences.npy")
    val_vecs = sentence_vectors(val_texts, args.work / "val-sentences.npy")
    print(f"{len(train_arts)} articles, {len(texts)} sentences, {len(train)} questions "
          f"({sum(it.low_overlap for it in train)} in other words); {len(val)} validation questions "
          f"({sum(it.low_overlap for it in val)}) ({time.time() - t0:.0f}s)", flush=True)
    draw = [args.low_overlap if it.low_overlap else 1.0 for it in train]
    doc = torch.from_numpy(vecs)

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
    model = build_encoder()
    model.embeddings.word_embeddings.weight.requires_grad_(False)  # shipped by the package
    base, base_low = validate(model, tokenizer, val_vecs, val_ranges, val)
    print(f"validation hit@1 (own article, dense only) of the bundled model: {base:.4f} "
          f"(in other words: {base_low:.4f})", flush=True)
    params, opt, sched, step, seconds, history = start_or_resume(model, args)
    model.train()
    while step < args.steps:
        rng = random.Random(1000 + step)  # the batch of a step is fixed, so a resume repeats none
        batch = (rng.sample(train, args.batch) if args.low_overlap == 1.0
                 else rng.choices(train, weights=draw, k=args.batch))
        t = time.time()
        arts = sorted({it.article for it in batch})
        rows = [r for a in arts for r in range(*ranges[a])]
        own = set(rows)
        rows += [r for r in rng.sample(range(len(texts)), RANDOM_NEGATIVES) if r not in own]
        where = {r: i for i, r in enumerate(rows)}
        target = torch.as_tensor([where[it.gold] for it in batch])
        q = pooled(model, tokenize(tokenizer, [it.question for it in batch]))
        logits = SCALE * q @ doc[rows].T
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer_step(loss, opt, sched, params)
        step += 1
        seconds += time.time() - t
        if step % 20 == 0:
            print(f"step {step}/{args.steps} loss {loss.item():.3f} {seconds / step:.2f}s/step", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            score, low = validate(model, tokenizer, val_vecs, val_ranges, val)
            history.append([step, round(score, 4), round(low, 4)])
            print(f"  validation hit@1 at step {step}: {score:.4f}, in other words {low:.4f} "
                  f"(bundled model {base:.4f}, {base_low:.4f})", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            checkpoint(model, opt, sched, args, step, seconds, history)
    save(model, tokenizer, args, (base, base_low), history, seconds, len(train_arts), len(train))
    return 0


def save(model, tokenizer, args, base, history, seconds, n_articles, n_questions) -> None:
    from safetensors.torch import save_file

    from qa.qencoder import WORD_EMBEDDINGS, QuestionEncoder

    weighted = args.low_overlap != 1.0
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()
             if k != WORD_EMBEDDINGS and not k.endswith("position_ids")}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out / "qencoder.safetensors"))
    info = {
        "fitted_on": f"SQuAD v1.1 train, {n_articles} articles (200.. of eval.train's shuffle, the "
        f"reader's), {n_questions} questions with their answer sentence",
        "training": f"{args.steps} steps of {args.batch} questions, softmax at scale {SCALE} over "
        f"the batch's articles' sentences and {RANDOM_NEGATIVES} random ones (frozen bundled "
        f"vectors), AdamW at {args.lr} with linear decay, word embeddings frozen, "
        f"{seconds / 60:.0f} min on {args.threads} CPU threads"
        + (f", questions in other words drawn {args.low_overlap:g}x as often" if weighted else ""),
        "command": f"python -m eval.train_qencoder --steps {args.steps} --batch {args.batch} --lr {args.lr}"
        + (f" --low-overlap {args.low_overlap:g}" if weighted else ""),
        "validation": {"hit@1_bundled": round(base[0], 4), "hit@1_bundled_other_words": round(base[1], 4),
                       "hit@1": history[-1][1] if history else None,
                       "hit@1_other_words": history[-1][2] if history else None,
                       "curve": history},
    }
    (args.out / "qencoder.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    vec = QuestionEncoder(args.out).encode([CHECK_QUESTION])[0]  # as saved: half precision
    info["check"] = {"question": CHECK_QUESTION, "first": [round(float(x), 5) for x in vec[:8]]}
    (args.out / "qencoder.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"wrote {args.out}/qencoder.safetensors and qencoder.json: {info['validation']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
