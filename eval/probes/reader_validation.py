"""The reader's held-out figures, as served, for one or more trained readers.

    python -m eval.probes.reader_validation [DIR ...] [--precision auto]   (default: qa/models)

On the 8 validation articles of ``eval.train.reader`` (never trained on): exact span and
has-answer AUROC on the usual validation examples (answer sentences, hard and swapped-entity
negatives), and on the answer sentences against antonym and negation questions
(``--other-adversarial`` kinds) and against word-swapped ones (``--word-swaps``, one per
question the rule can change), and answer sentences that hold at most a fifth of their
question's content words (the question in other words) against the usual negatives. These
sets do not depend on how a reader was trained, so readers compare side by side
(``reader.json``'s own "validation" does depend on it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eval.train.reader_data import overlap
from eval.train.reader_inputs import articles, evaluate, examples
from index.config import Config
from qa.precision import PRECISIONS
from qa.reader import MODEL_DIR, Reader

LOW_OVERLAP = 0.2  # "in other words": at most a fifth of the question's content words in its sentence


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.probes.reader_validation [DIR ...]``: readers side by side on validation sentences."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path, default=[MODEL_DIR])
    ap.add_argument("--precision", choices=PRECISIONS, default=Config().reader_precision,
                    help="as Config.reader_precision (default: as served)")
    args = ap.parse_args(argv)
    _, val_arts = articles()
    every = examples(val_arts, seed=2)
    plain = every[:1500]
    positives = [e for e in plain if e.kind == "positive"]
    made = examples(val_arts, seed=2, other_adversarial=True, word_swaps=1.0)
    near = {"antonym and negation": [e for e in made if e.kind in ("antonym", "negation")],
            "word-swapped": [e for e in made if e.kind == "word_swap"]}
    low = [e for e in every if e.kind == "positive" and overlap(e.question, e.sentence) <= LOW_OVERLAP]
    negatives = [e for e in plain if e.answer is None]
    print(f"{len(plain)} validation examples; {len(positives)} answer sentences against "
          + " and ".join(f"{len(v)} {k}" for k, v in near.items()) + " questions")
    for d in args.dirs:
        reader = Reader(d, precision=args.precision)
        usual = evaluate(reader.model, reader.tokenizer, plain)
        line = (f"{d} ({reader.precision}): exact span {usual['span_exact']:.3f}, "
                f"AUROC {usual['has_answer_auroc']:.3f}")
        for name, kind in near.items():
            auroc = evaluate(reader.model, reader.tokenizer, positives + kind)["has_answer_auroc"]
            line += f"; against {name} questions AUROC {auroc:.3f}"
        other_words = evaluate(reader.model, reader.tokenizer, low + negatives)
        line += (f"; {len(low)} answer sentences in other words than their question (overlap <= "
                 f"{LOW_OVERLAP}): exact span {other_words['span_exact']:.3f}, AUROC against the "
                 f"usual negatives {other_words['has_answer_auroc']:.3f}")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
