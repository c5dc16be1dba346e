"""A benchmark corpus of news-brief-sized articles, 1k to 100k of them, from SQuAD v1.1 train.

Article ``i`` is paragraph ``i mod D`` of a fixed shuffle of the SQuAD v1.1 train paragraphs
(``D`` distinct paragraphs, 10,000 by default), so the 1k corpus is part of the 10k corpus, which
is part of the 100k corpus. Beyond ``D`` articles a paragraph comes back as copy ``v`` with its
own id, title and a boilerplate line ("Copyright 2003 Archive, edition 3. All rights reserved.")
that the cleaner removes: the text (and its hash) differs, the citable sentences do not. Copies
cost no extra embedding, which is what makes 100k articles buildable on two CPU cores; their
vectors are identical, so recall is counted with ties (see ``eval.bench.scale``).

The seed article is added as one more article, so its questions measure quality at every size.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from eval.squad import CACHE, SQUAD11_TRAIN, read_json
from index.config import Config
from index.split import make_passages, split_sentences

DISTINCT = 10_000
EMBED_CACHE = CACHE / "embeddings.npz"


@dataclass(frozen=True)
class CorpusArticle:
    """One article of the scale corpus: id, title, text."""
    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class CorpusQuestion:
    """A question about one corpus article, with its answers."""
    question: str
    answers: tuple[str, ...]
    doc_id: str  # the article (copy 0) the question was written for


@lru_cache(maxsize=1)
def _pool() -> list[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]]:
    """(title, paragraph, questions) for every SQuAD v1.1 train paragraph, in a fixed shuffle."""
    data = read_json(SQUAD11_TRAIN)["data"]
    pool = []
    for art in data:
        title = art["title"].replace("_", " ")
        for para in art["paragraphs"]:
            qs = tuple((q["question"], tuple(q.get("answers") or ())) for q in para["qas"])
            pool.append((title, para["context"].strip(), qs))
    random.Random(20261125).shuffle(pool)
    return pool


def articles(n: int, distinct: int = DISTINCT) -> Iterator[CorpusArticle]:
    """The first ``n`` articles of the scale corpus (deterministic)."""
    pool = _pool()
    distinct = min(distinct, len(pool))
    for i in range(n):
        title, text, _ = pool[i % distinct]
        copy = i // distinct
        if copy:
            text = f"{text}\n\nCopyright {2000 + copy} Archive, edition {copy}. All rights reserved."
            title = f"{title} (edition {copy})"
        yield CorpusArticle(f"a{i:06d}", f"{title} {i % distinct}", text)


def questions(count: int, within: int, seed: int = 7) -> list[CorpusQuestion]:
    """``count`` questions about the first ``within`` articles (so they hold at every size)."""
    pool = _pool()[:within]
    picked = random.Random(seed).sample(range(len(pool)), min(count, len(pool)))
    out = []
    for i in picked:
        q, answers = pool[i][2][0]
        out.append(CorpusQuestion(q, answers, f"a{i:06d}"))
    return out


def unit_texts(text: str, config: Config | None = None) -> list[str]:
    """The sentence and passage texts the index embeds for ``text``."""
    config = config or Config()
    sentences = split_sentences("x", text)
    passages = make_passages(sentences, text, config.passage_sentences, config.passage_overlap)
    return [s.text for s in sentences] + [p.text for p in passages]


def precompute(n: int, chunk: int = 4000) -> None:
    """Embed every distinct text of the ``n``-article corpus into the content-hash cache,
    saving as it goes, so a later build (and a cut-off run) never embeds a text twice."""
    from index.embed import CachedEmbedder

    embedder = CachedEmbedder(EMBED_CACHE)
    texts: list[str] = []
    seen: set[str] = set()
    t0 = time.perf_counter()
    for art in articles(min(n, DISTINCT)):
        for t in unit_texts(art.text):
            if t not in seen:
                seen.add(t)
                texts.append(t)
    todo = [t for t in texts if t not in embedder]
    print(f"{len(texts):,} distinct texts ({time.perf_counter() - t0:.0f} s to split); "
          f"{len(todo):,} not yet embedded", flush=True)
    t0 = time.perf_counter()
    done = 0
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        embedder.encode(part)
        embedder.save()
        done += len(part)
        rate = done / (time.perf_counter() - t0)
        print(f"  embedded {done:,}/{len(todo):,} ({rate:.0f} texts/s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.bench.corpus``: embed the corpus's texts into the cache once."""
    parser = argparse.ArgumentParser(prog="python -m eval.bench.corpus", description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    args = parser.parse_args(argv)
    precompute(args.articles)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
