"""Child process for the multi-process test: add and remove articles on one library.

    python -m tests.library_writer INDEX_DIR PREFIX COUNT

Adds ``PREFIX-0`` .. ``PREFIX-{COUNT-1}`` one at a time and removes every third one right after
adding it; prints ``added ID`` / ``removed ID`` only after the call returned (acknowledged).
"""

from __future__ import annotations

import sys

import torch

from index.store import ArticleIndex


def article(prefix: str, n: int) -> str:
    return (f"Bulletin {prefix} {n}\n\nThe {prefix} desk filed bulletin {n} on Monday. "
            f"It counts {n * 7 + 3} new permits for the {prefix} district.")


def main() -> None:
    torch.set_num_threads(1)
    path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    index = ArticleIndex.open(path)
    index.embedder.encode_one("warm up")
    print("ready", flush=True)
    for n in range(count):
        doc_id = f"{prefix}-{n}"
        index.add_document(article(prefix, n), doc_id=doc_id)
        print(f"added {doc_id}", flush=True)
        if n % 3 == 2:
            index.remove_document(doc_id)
            print(f"removed {doc_id}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
