"""Fine-tune the reading model (``qa/reader.py``) from the bundled MiniLM weights.

    python -m eval.train.reader [--steps 2400] [--lr 1e-4] [--batch 32] [--layers 6]

As shipped: ``--steps 2400 --lr 1e-4``, then ``--steps 4800 --lr 5e-5`` (``SCHEDULE``; the
second run resumes the first's checkpoint and extends its schedule), then
``--steps 800 --lr 3e-5 --other-adversarial --teacher qa/models --work artifacts/reader-anchored``
(starts from the reader the first two wrote and keeps its spans by distillation), then
``--steps 2000 --lr 3e-5 --other-adversarial --word-swaps 0.25 --teacher qa/models --work
artifacts/reader-wordswap`` (the same from the reader the third wrote, word swaps added), then
the same with ``--steps 1600 --low-overlap 0.25 --work artifacts/reader-lowoverlap`` (answer
sentences in other words than their question taught anew).

Data: SQuAD v1.1 train articles 200.. of the fixed shuffle that ``eval.train.pipeline`` uses (its first
200 articles fit and report the re-ranker and the abstention model, so the reader's scores
are features there on articles it never saw). Examples from ``eval/train/reader_data.py``: the
answer sentence with its span, hard negatives and adversarial questions with no answer.
Nothing from the SQuAD 2.0 benchmark or the seed article.

Long on 2 cores: it checkpoints to ``artifacts/reader/`` every ``--save-every`` steps and
resumes from there when started again with the same settings. At the end it writes
``qa/models/reader.safetensors`` (half precision, no word embeddings) and ``reader.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from eval.train.reader_data import ReaderExample
from eval.train.reader_inputs import (
    FIRST_ARTICLE,
    MAX_ANSWER_TOKENS,
    MAX_LENGTH,
    MAX_QUESTION_TOKENS,
    articles,
    evaluate,
    examples,
    tensorize,
)
from eval.train.save_reader import write_reader
from qa.reader import MODEL_DIR, build_model

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "reader"
# The shipped reader's training: 2,400 steps at 1e-4, then extended from that checkpoint to
# 4,800 with a fresh schedule at 5e-5 (validation exact span 0.470 -> 0.479, AUROC 0.913 -> 0.924);
# then 800 steps at 3e-5 from that reader with antonym and negation questions added, its spans
# on the other questions kept by distillation from it (int8, `python -m eval.probes.reader_validation`:
# exact span 0.468 -> 0.474, AUROC 0.918 -> 0.916; against antonym and negation questions AUROC
# 0.605 -> 0.851).
# (The same 800 steps without distillation raised abstention as much but cost 2.5 points of
# exact span and answered "Whom did Bill Burns meet in Doha?" with his title.)
# Then 2,000 steps at 3e-5 from that reader, with word-swapped questions added too, anchored the
# same way (int8 weights per layer: exact span 0.472 -> 0.474, AUROC 0.916 -> 0.912; against
# antonym and negation questions 0.850 -> 0.902, against word-swapped ones 0.694 -> 0.776).
# Then 1,600 steps at 3e-5 from that reader, its answer sentences holding at most a quarter of
# their question's content words (12 % of them: the question in other words) taught anew and
# seen 4 times as often, not held to the teacher, which read them as "no answer" too often
# (int8: exact span 0.483 -> 0.479, AUROC 0.922 -> 0.922; against antonym and negation 0.915 ->
# 0.929, word-swapped 0.792 -> 0.820; answer sentences in other words against the usual
# negatives 0.749 -> 0.790).
# Each entry: (steps, lr, anchored run): an anchored run starts from the reader the runs before
# wrote, with --teacher, in a work folder of its own and with the data options it names.
SCHEDULE: tuple[tuple[int, float, tuple[str, ...]], ...] = (
    (2400, 1e-4, ()),
    (4800, 5e-5, ()),
    (800, 3e-5, ("--work", str(ARTIFACTS.parent / "reader-anchored"), "--other-adversarial")),
    (2000, 3e-5, ("--work", str(ARTIFACTS.parent / "reader-wordswap"), "--other-adversarial",
                  "--word-swaps", "0.25")),
    (1600, 3e-5, ("--work", str(ARTIFACTS.parent / "reader-lowoverlap"), "--other-adversarial",
                  "--word-swaps", "0.25", "--low-overlap", "0.25")),
)


# the kinds a teacher-anchored run teaches anew (not held to the teacher's reading)
NEW_KINDS = ("antonym", "negation", "word_swap", "low_overlap")


def distill_loss(teacher, inputs: dict, out, anchored) -> Any:
    """KL divergence from the teacher's start and end distributions to the student's on the
    ``anchored`` rows (every kind but the new ones): the model learns the new questions while
    the spans it already found stay where they were. (Without it, 800 steps with antonym and
    negation questions cost 2.5 points of exact span and changed answers to plain questions.)"""
    import torch
    import torch.nn.functional as F

    if not bool(anchored.any()):
        return out.loss.new_zeros(())
    feed = {k: v for k, v in inputs.items() if k not in ("start_positions", "end_positions")}
    with torch.no_grad():
        t = teacher(**feed)
    total = out.loss.new_zeros(())
    mask = inputs["attention_mask"][anchored].bool()
    for mine, theirs in ((out.start_logits, t.start_logits), (out.end_logits, t.end_logits)):
        m = mine[anchored].masked_fill(~mask, -1e4)
        th = theirs[anchored].masked_fill(~mask, -1e4)
        total = total + F.kl_div(F.log_softmax(m, -1), F.log_softmax(th, -1), log_target=True,
                                 reduction="batchmean")
    return total / 2


def batches(data: list[ReaderExample], size: int, seed: int) -> list[list[ReaderExample]]:
    """Batches of similar length (less padding), in random order."""
    rng = random.Random(seed)
    order = sorted(range(len(data)), key=lambda i: (len(data[i].question) + len(data[i].sentence)) // 40
                   + rng.random())
    out = [[data[i] for i in order[k : k + size]] for k in range(0, len(order), size)]
    rng.shuffle(out)
    return out


def training_parser(description: str, steps: int, batch: int, lr: float, work: Path,
                    out: Path = MODEL_DIR) -> argparse.ArgumentParser:
    """The options of every training command here (``eval.train.reader``,
    ``eval.train.encoder``): steps, batch, learning rate, threads, checkpoints, output."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--work", type=Path, default=work, help="checkpoint folder")
    ap.add_argument("--out", type=Path, default=out)
    return ap


def start_training(args: argparse.Namespace) -> None:
    """Torch threads as asked, a fixed seed, the checkpoint folder made."""
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.work.mkdir(parents=True, exist_ok=True)


def optimizer_step(loss, opt, sched, params) -> None:
    """One step of both training commands: gradients clipped at norm 1, then the schedule."""
    import torch

    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.train.reader``: fine-tune the reader (resumes its checkpoint)."""
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from index.embed import bundled_model_path

    ap = training_parser(__doc__.splitlines()[0], steps=SCHEDULE[0][0], batch=32, lr=SCHEDULE[0][1],
                         work=ARTIFACTS)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--other-adversarial", action="store_true",
                    help="add antonym and negation questions (eval/train/reader_data.py)")
    ap.add_argument("--word-swaps", type=float, default=0.0,
                    help="the share of questions with a word-swapped copy (eval/train/reader_data.py)")
    ap.add_argument("--low-overlap", type=float, default=0.0,
                    help="answer sentences holding at most this share of their question's words "
                    "are taught anew in an anchored run, not held to the teacher (reader_data.py)")
    ap.add_argument("--teacher", type=Path, default=None,
                    help="a trained reader's folder: the start (when there is no checkpoint) and a "
                    "frozen teacher whose spans the other examples keep (see distill_loss)")
    args = ap.parse_args(argv)
    start_training(args)

    t0 = time.time()
    train_arts, val_arts = articles()
    kinds_made = {"other_adversarial": args.other_adversarial, "word_swaps": args.word_swaps,
                  "low_overlap": args.low_overlap}
    train = examples(train_arts, seed=1, **kinds_made)
    val = examples(val_arts, seed=2, **kinds_made)[:1500]
    if args.other_adversarial or args.word_swaps or args.low_overlap:
        # rare kinds (2-8 % each), seen 4 times as often
        train += [e for e in train if e.kind in NEW_KINDS] * 3
        random.Random(3).shuffle(train)
    kinds = dict(Counter(e.kind for e in train))
    print(f"{len(train_arts)} articles, {len(train)} examples {kinds}; {len(val)} validation "
          f"({time.time() - t0:.0f}s)", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
    model = build_model(args.layers)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # shipped by the package
    teacher = None
    if args.teacher is not None:
        from qa.reader import Reader

        teacher = Reader(args.teacher, precision="float32").model  # frozen
        teacher.requires_grad_(False)
        model.load_state_dict(teacher.state_dict())  # copies values: requires_grad stays as set
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    step, epoch, done, seconds = 0, 0, 0, 0.0
    runs: list[list] = []  # [steps, lr] of each schedule: one, or more when extended
    start, state = 0, None  # start: the step the current learning-rate schedule began at
    ckpt = args.work / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, epoch, done, seconds = state["step"], state["epoch"], state["done"], state["seconds"]
        # (the first checkpoints did not record their schedule: they ran 2400 steps at 1e-4)
        runs, start = state.get("runs") or [[step, 1e-4]], state.get("schedule_start", 0)
        print(f"resumed at step {step} (epoch {epoch}, {seconds / 60:.1f} min trained)", flush=True)
        if runs[-1][0] != args.steps and step < args.steps:
            # More steps than the checkpoint planned: carry on through the same data order
            # with a fresh schedule (short warm-up, linear decay) over the remaining steps.
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] = args.lr
            runs, start, state = [*runs, [args.steps, args.lr]], step, None
            print(f"extended to {args.steps} steps: new schedule from lr {args.lr}", flush=True)
    runs = runs or [[args.steps, args.lr]]
    length = args.steps - start
    sched = get_linear_schedule_with_warmup(opt, int((0.06 if start == 0 else 0.03) * length), length)
    if state is not None:
        sched.load_state_dict(state["sched"])
    model.train()
    log = open(args.work / "log.jsonl", "a")  # noqa: SIM115 - appended to across the whole run
    while step < args.steps:
        plan = batches(train, args.batch, seed=100 + epoch)
        for batch in plan[done:]:
            if step >= args.steps:
                break
            done += 1
            t = time.time()
            inputs = tensorize(tokenizer, batch)
            if inputs is None:
                continue
            kept = inputs.pop("kept")
            out = model(**inputs)
            loss = out.loss
            if teacher is not None:
                anchored = [batch[i].kind not in NEW_KINDS for i in kept]
                loss = loss + distill_loss(teacher, inputs, out, torch.as_tensor(anchored))
            optimizer_step(loss, opt, sched, params)
            step += 1
            seconds += time.time() - t
            log.write(json.dumps({"step": step, "loss": round(float(loss), 4)}) + "\n")
            if step % 20 == 0:
                log.flush()
                print(f"step {step}/{args.steps} loss {float(loss):.3f} "
                      f"{seconds / step:.2f}s/step", flush=True)
            if step % args.save_every == 0 or step == args.steps:
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                            "sched": sched.state_dict(), "step": step, "epoch": epoch,
                            "done": done, "seconds": seconds, "runs": runs,
                            "schedule_start": start}, args.work / "checkpoint.tmp")
                (args.work / "checkpoint.tmp").replace(ckpt)
            if step % 1000 == 0 or step == args.steps:
                scores = evaluate(model, tokenizer, val)
                print(f"  validation at step {step}: {scores}", flush=True)
                log.write(json.dumps({"step": step, **scores}) + "\n")
        else:
            epoch, done = epoch + 1, 0
    scores = evaluate(model, tokenizer, val)
    save(model, tokenizer, args, runs, scores, seconds, len(train_arts), len(train), kinds)
    from qa.reader import Reader

    info = json.loads((args.out / "reader.json").read_text(encoding="utf-8"))
    info["validation_fp32"] = info.pop("validation")
    for precision in ("bfloat16", "int8"):  # as served: half-precision weights, then these
        scores = evaluate(Reader(args.out, precision=precision).model, tokenizer, val)
        info[f"validation_{precision}"] = {k: round(v, 4) for k, v in scores.items()}
    (args.out / "reader.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"fp32: {info['validation_fp32']}; bf16: {info['validation_bfloat16']}; "
          f"int8: {info['validation_int8']}", flush=True)
    return 0


def save(model, tokenizer, args, runs, scores, seconds, n_articles, n_examples, kinds) -> None:
    """Write the reader's weights and record (calibrated) to ``out``."""
    before = {}  # the teacher's own record, read before ``out`` (which may be its folder) is written
    if args.teacher is not None:
        before = json.loads((args.teacher / "reader.json").read_text(encoding="utf-8"))
    info = {
        "layers": args.layers,
        "max_length": MAX_LENGTH,
        "max_question_tokens": MAX_QUESTION_TOKENS,
        "max_answer_tokens": MAX_ANSWER_TOKENS,
        "fitted_on": f"SQuAD v1.1 train, {n_articles} articles ({FIRST_ARTICLE}.. of eval.train.pipeline's "
        f"shuffle), {n_examples} examples {kinds}",
        "training": f"{args.steps} steps of {args.batch} ("
        + ", then ".join(f"to step {n} at lr {lr}" for n, lr in runs)
        + f"; from the reader in {args.teacher}, its spans kept by distillation" * bool(args.teacher)
        + f", AdamW, linear decay), word embeddings frozen, {seconds / 60:.0f} min on "
        f"{args.threads} CPU threads",
        "command": " && ".join(f"python -m eval.train.reader --steps {n} --batch {args.batch} "
                               f"--layers {args.layers} --lr {lr}" for n, lr in runs)
        + " --other-adversarial" * args.other_adversarial  # (the last run's data)
        + (f" --word-swaps {args.word_swaps}" if args.word_swaps else "")
        + (f" --low-overlap {args.low_overlap}" if args.low_overlap else "")
        + (f" --teacher {args.teacher} --work {args.work}" if args.teacher else ""),
        "validation": {k: round(v, 4) for k, v in scores.items()},
    }
    if before:  # the whole history: how the teacher was made, then this run
        info["training"] = f"{before['training']}; then {info['training']}"
        info["command"] = f"{before['command']} && {info['command']}"
    write_reader(model, args.out, info)


if __name__ == "__main__":
    sys.exit(main())
