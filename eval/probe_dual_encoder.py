"""Feasibility probe (not product code): would fine-tuning *both* sides of dense retrieval find
the questions asked in other words than their answer sentence, which the question encoder
alone (document side frozen, ``eval.train_qencoder``) does not?

    python -m eval.probe_dual_encoder [--steps 300] [--batch 16] [--lr 3e-5] [--low-overlap 4]

One encoder for questions and sentences (symmetric, as the bundled model), from the bundled
weights, word embeddings frozen. Each step: ``--batch`` questions of the question encoder's
training set (``--low-overlap``: those in other words drawn that many times as often), their
answer sentences and the 3 other sentences of each one's article nearest to it (by the question's
vector now against the bundled model's sentence vectors: the hard negatives); a softmax at
scale 20 over every sentence of the step (the others' answer sentences included). Validation as
``eval.train_qencoder`` measures it (dense-only hit@1 among the article's sentences, on all 8
held-out articles' questions and on those in other words), with the validation sentences
re-embedded by the model being trained. It prints the bundled model's and the shipped question
encoder's figures on the same questions first. Checkpoints to ``artifacts/probe-dual/``.
Using it in the product would mean re-embedding every library (an upgrade on open).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

from eval.train_qencoder import (
    SCALE,
    checkpoint,
    encode_all,
    gather,
    hit_at_1,
    sentence_vectors,
    start_or_resume,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "probe-dual"
OTHER_SENTENCES = 3  # sentences of the question's own article added per question


def main(argv: list[str] | None = None) -> int:
    import torch
    from transformers import AutoTokenizer

    from eval.train_reader import articles, optimizer_step, start_training, training_parser
    from index.embed import bundled_model_path
    from qa.qencoder import QuestionEncoder, build_encoder, pooled, tokenize

    ap = training_parser(__doc__.splitlines()[0], steps=300, batch=16, lr=3e-5, work=ARTIFACTS,
                         out=ARTIFACTS)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--low-overlap", type=float, default=4.0)
    args = ap.parse_args(argv)
    start_training(args)

    train_arts, val_arts = articles()
    texts, ranges, train = gather(train_arts)
    val_texts, val_ranges, val = gather(val_arts)
    vecs = sentence_vectors(texts, args.work / "sentences.npy")
    val_vecs = sentence_vectors(val_texts, args.work / "val-sentences.npy")
    questions = [it.question for it in val]
    shipped = QuestionEncoder().encode(questions)
    print(f"shipped question encoder, bundled sentence vectors: hit@1 "
          f"{hit_at_1(val_vecs, val_ranges, val, shipped):.4f}, in other words "
          f"{hit_at_1(val_vecs, val_ranges, val, shipped, True):.4f} ({len(val)} questions, "
          f"{sum(it.low_overlap for it in val)} in other words)", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
    model = build_encoder()
    model.embeddings.word_embeddings.weight.requires_grad_(False)

    def validate() -> tuple[float, float]:
        s = encode_all(model, tokenizer, val_texts, max_length=128)
        q = encode_all(model, tokenizer, questions)
        return hit_at_1(s, val_ranges, val, q), hit_at_1(s, val_ranges, val, q, True)

    base = validate()
    print(f"bundled model on both sides: hit@1 {base[0]:.4f}, in other words {base[1]:.4f}", flush=True)
    params, opt, sched, step, seconds, history = start_or_resume(model, args)
    draw = [args.low_overlap if it.low_overlap else 1.0 for it in train]
    model.train()
    while step < args.steps:
        rng = random.Random(2000 + step)
        batch = rng.choices(train, weights=draw, k=args.batch)
        t = time.time()
        q = pooled(model, tokenize(tokenizer, [it.question for it in batch]))
        qv = q.detach().numpy()
        rows = list(dict.fromkeys(it.gold for it in batch))
        for it, v in zip(batch, qv):
            lo, hi = ranges[it.article]
            near = lo + np.argsort(-(vecs[lo:hi] @ v))
            rows += [int(r) for r in near if r != it.gold][:OTHER_SENTENCES]
        rows = list(dict.fromkeys(rows))
        where = {r: i for i, r in enumerate(rows)}
        target = torch.as_tensor([where[it.gold] for it in batch])
        enc = tokenizer([texts[r] for r in rows], truncation=True, max_length=128, padding=True,
                        return_tensors="pt")
        d = pooled(model, dict(enc))
        loss = torch.nn.functional.cross_entropy(SCALE * q @ d.T, target)
        optimizer_step(loss, opt, sched, params)
        step += 1
        seconds += time.time() - t
        if step % 20 == 0:
            print(f"step {step}/{args.steps} loss {loss.item():.3f} {seconds / step:.2f}s/step", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            score = validate()
            history.append([step, round(score[0], 4), round(score[1], 4)])
            print(f"  validation at step {step}: hit@1 {score[0]:.4f}, in other words {score[1]:.4f}",
                  flush=True)
        if step % args.save_every == 0 or step == args.steps:
            checkpoint(model, opt, sched, args, step, seconds, history)
    print(f"done: {history} ({seconds / 60:.0f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
