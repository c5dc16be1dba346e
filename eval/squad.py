"""SQuAD data at article level: one document per article (paragraphs joined by blank lines)."""

from __future__ import annotations

import gzip
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

from index import settings

# The data ships in the repository, gzipped (eval/data/README.md: source and licence).
# QA_DATA_DIR points at another folder holding files of the same names (plain or gzipped),
# e.g. a larger copy of the data.
DATA_DIR = settings.data_dir()
SQUAD2_DEV = DATA_DIR / "squad2-dev-public.json.gz"
SQUAD11_TRAIN = DATA_DIR / "squad11-train.json.gz"
CACHE = Path(__file__).resolve().parent / "cache"


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question: id, text, answers, whether it is impossible."""
    qid: str
    question: str
    answers: tuple[str, ...]
    impossible: bool
    paragraph: int


@dataclass(frozen=True)
class SquadArticle:
    """One SQuAD article: title, paragraphs and their questions."""
    title: str
    text: str
    paragraph_spans: tuple[tuple[int, int], ...]
    questions: tuple[SquadQuestion, ...]


def normalize_answer(s: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation) | {"“", "”", "’", "‘"})
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def contains_answer(quote: str, answers: tuple[str, ...] | list[str]) -> bool:
    """Whether ``quote`` holds one of ``answers`` as whole normalised tokens."""
    q = f" {normalize_answer(quote)} "
    return any(n and f" {n} " in q for n in (normalize_answer(a) for a in answers))


def read_json(path: Path) -> dict:
    """A JSON file, read directly from its gzipped form when its name ends in ``.gz``; a plain
    ``.json`` beside a missing ``.json.gz`` is read instead."""
    if not path.exists() and path.suffix == ".gz" and path.with_suffix("").exists():
        path = path.with_suffix("")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (see eval/data/README.md)")
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    return json.loads(path.read_text(encoding="utf-8"))


def load_articles(path: Path, limit: int | None = None) -> list[SquadArticle]:
    """The articles of a SQuAD JSON file (plain or gzipped)."""
    data = read_json(path)["data"]
    out = []
    for art in data[:limit]:
        spans, parts, questions, cursor = [], [], [], 0
        for p_i, para in enumerate(art["paragraphs"]):
            ctx = para["context"].strip()
            spans.append((cursor, cursor + len(ctx)))
            parts.append(ctx)
            cursor += len(ctx) + 2
            for qa in para["qas"]:
                questions.append(
                    SquadQuestion(
                        qa.get("id", f"{art['title']}-{p_i}-{len(questions)}"),
                        qa["question"],
                        tuple(qa.get("answers") or ()),
                        bool(qa.get("is_impossible", False)),
                        p_i,
                    )
                )
        out.append(SquadArticle(art["title"], "\n\n".join(parts), tuple(spans), tuple(questions)))
    return out


def hold_out_paragraphs(article: SquadArticle, fraction: float, seed: int) -> SquadArticle:
    """The article without a random ``fraction`` of its paragraphs. Questions about the removed
    paragraphs stay, marked unanswerable: near-topic negatives (same article, fact removed)."""
    import random

    n = len(article.paragraph_spans)
    dropped = set(random.Random(seed).sample(range(n), int(n * fraction))) if n > 1 else set()
    kept = [i for i in range(n) if i not in dropped]
    renumber = {old: new for new, old in enumerate(kept)}
    parts, spans, cursor = [], [], 0
    for i in kept:
        lo, hi = article.paragraph_spans[i]
        parts.append(article.text[lo:hi])
        spans.append((cursor, cursor + hi - lo))
        cursor += hi - lo + 2
    questions = tuple(
        SquadQuestion(
            q.qid,
            q.question,
            q.answers,
            q.impossible or q.paragraph in dropped,
            renumber.get(q.paragraph, -1),
        )
        for q in article.questions
    )
    return SquadArticle(article.title, "\n\n".join(parts), tuple(spans), questions)
