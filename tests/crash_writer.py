"""Child process for the crash test: add articles and save after each, forever, until killed.

    python -m tests.crash_writer INDEX_DIR FIRST_NUMBER

Prints ``ready`` once the model is loaded and ``committed doc-N`` after each save returns.
"""

from __future__ import annotations

import sys

import torch

from index.store import ArticleIndex


def article(n: int) -> str:
    return (f"Report number {n}\n\nThe committee published report {n} on Tuesday. "
            f"It lists {n * 3} recommendations for the harbour. Critics called report {n} late.")


def main() -> None:
    torch.set_num_threads(1)
    path, n = sys.argv[1], int(sys.argv[2])
    index = ArticleIndex.open(path)
    index.embedder.encode_one("warm up")
    print("ready", flush=True)
    while True:
        index.add_document(article(n), doc_id=f"doc-{n}")
        index.save(path)
        print(f"committed doc-{n}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
