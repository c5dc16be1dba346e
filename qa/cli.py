"""The ``qa`` command: a thin shell over :class:`qa.QAService`.

    qa ask "Why did the talks stall?" [--json] [--doc DOC_ID]
    qa index add PATH_OR_URL... | qa index list | qa index remove DOC_ID | qa index rebuild
    qa serve [--host 127.0.0.1] [--port 7860] [--auth USER:PASSWORD] [--read-only]
    qa eval [--suite seed|squad|all] [--limit N] [--out DIR]

The index directory is ``--index-dir``, else ``$QA_INDEX_DIR``, else a per-user data directory.
A new library starts with the bundled article(s). Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import unicodedata
from pathlib import Path

from index import settings
from index.errors import QAError
from qa.types import Answer

EXIT_USER_ERROR = 2
PLUGIN_GROUP = "grounded_qa.commands"


def open_library(index_dir: Path):  # -> QAService (imported lazily: --help stays fast)
    """The library at ``index_dir`` as a ``QAService`` (a new one starts from the seeds)."""
    from qa.service import QAService

    return QAService.open_library(index_dir)


def printable(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences among them) are
    shown as ``\\x1b``-style escapes; line breaks and tabs stay."""
    return "".join(c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
                   else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)


def format_answer(ans: Answer) -> str:
    """An answer as the terminal shows it: the text, its confidence, the short answer and
    the numbered citations with their offsets (control characters escaped).
    """
    lines = [ans.text, ""]
    if ans.abstained:
        lines.append(f"(confidence {ans.confidence:.2f}, below the abstention threshold)")
        if ans.related:
            lines.append("Related passages (not support):")
    else:
        lines.append(f"(confidence {ans.confidence:.2f})")
    if ans.short is not None:
        lines.append(f'Short answer, in [1]: {ans.short.doc_id}, chars {ans.short.start}–{ans.short.end}: '
                     f'"{" ".join(ans.short.quote.split())}"')
    for n, c in enumerate(ans.citations or ans.related, 1):
        quote = " ".join(c.quote.split())
        page = f", page {c.page}" if c.page else ""
        lines.append(f'[{n}] {c.doc_id}{page}, chars {c.start}–{c.end}: "{quote}"')
    return printable("\n".join(lines))


def _cmd_ask(args: argparse.Namespace) -> int:
    from index.config import Config
    from qa.inputs import clean_question

    clean_question(args.question, Config().max_question_chars)  # fail before loading anything
    svc = open_library(args.index_dir)
    ans = svc.ask(args.question, doc_ids=args.doc or None)
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(ans))
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    svc = open_library(args.index_dir)
    if args.id and len(args.paths) > 1:
        raise QAError("--id names one document; give one path with it")
    svc.allow_private_urls = svc.allow_private_urls or args.allow_private_urls
    added = svc.add_files(args.paths, doc_id=args.id)  # one transaction: all or nothing
    svc.save()  # the adds are committed; this refreshes the derived files
    for path, (doc_id, new) in zip(args.paths, added, strict=True):
        print(printable(f"{'added' if new else 'already indexed'}: {path} as {doc_id}"))
    return 0


def format_guide(guide) -> str:
    """An article's guide as the terminal shows it: summary, names, questions, each with offsets."""
    lines = ["Summary:"]
    lines += [f'  [{c.start}–{c.end}] "{" ".join(c.quote.split())}"' for c in guide.summary]
    lines.append("Names:")
    lines += [f"  {n.name} ({n.kind}, {len(n.mentions)} mention{'s' * (len(n.mentions) != 1)})"
              + (f": also {', '.join(v for v in n.variants if v != n.name)}" if len(n.variants) > 1 else "")
              for n in guide.names]
    lines.append("Questions it answers:")
    lines += [f"  {q.question}  (confidence {q.confidence:.2f}, chars {q.citation.start}–{q.citation.end})"
              for q in guide.questions]
    return printable("\n".join(lines))


def _cmd_guide(args: argparse.Namespace) -> int:
    svc = open_library(args.index_dir)
    guide = svc.guide(args.doc_id)
    if args.json:
        print(json.dumps(guide.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_guide(guide))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    svc = open_library(args.index_dir)
    docs = [
        {"doc_id": d.doc_id, "title": d.title, "chars": len(d.text), "source": d.source}
        for d in svc.documents()
    ]
    if args.json:
        print(json.dumps(docs, ensure_ascii=False, indent=2))
    elif not docs:
        print("the library is empty; add an article with `qa index add PATH`")
    else:
        for d in docs:
            print(printable(f"{d['doc_id']}\t{d['chars']:>8,} chars\t{d['title']}"))
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    svc = open_library(args.index_dir)
    svc.remove_document(args.doc_id)
    svc.save()
    print(printable(f"removed: {args.doc_id}"))
    return 0


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from index.store import ArticleIndex

    _, restored, problems = ArticleIndex.rebuild(args.index_dir)
    print(f"rebuilt {args.index_dir}: {len(restored)} article(s) restored")
    for p in problems:
        lost = p.endswith("; not restored")
        print(f"  {'not restored' if lost else 'note'}: {p.removesuffix('; not restored')}")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from index.store import ArticleIndex

    index = ArticleIndex.open(args.index_dir)
    before = len(index.sentences)
    index.compact().save()
    print(f"compacted {args.index_dir}: {before:,} sentence rows -> {index.live_sentences:,} "
          "(vectors reused, nothing re-embedded)")
    return 0


def command_plugins() -> list:
    """The ``register(subparsers)`` functions other packages contribute commands through, as
    entry points of the group ``grounded_qa.commands`` (``serve`` from ``ui``, ``eval`` and
    ``bench`` from ``eval``): the core imports nothing from the layers above it. A plugin that
    cannot be imported (its extra is not installed) is skipped with one debug line."""
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            found.append(ep.load())
        except ImportError as exc:
            logging.getLogger("qa").debug("command plugin %s not loaded: %s", ep.name, exc)
    return found


def build_parser() -> argparse.ArgumentParser:
    """The ``qa`` argument parser: the core commands, then those of the command plugins."""
    p = argparse.ArgumentParser(prog="qa", description=__doc__.splitlines()[0])
    p.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="index directory (default: $QA_INDEX_DIR or a per-user data directory)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="machine-readable output")
    ask.add_argument("--doc", action="append", metavar="DOC_ID", help="ask only this document")
    ask.set_defaults(func=_cmd_ask)

    gd = sub.add_parser("guide", help="an article's guide: summary, names, questions it answers")
    gd.add_argument("doc_id")
    gd.add_argument("--json", action="store_true", help="machine-readable output")
    gd.set_defaults(func=_cmd_guide)
    idx = sub.add_parser("index", help="manage the article library")
    isub = idx.add_subparsers(dest="index_command", required=True)
    add = isub.add_parser("add", help="add .txt, .md, .html or .pdf articles, or articles by URL")
    add.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    add.add_argument("--allow-private-urls", action="store_true",
                     help="fetch URLs on loopback, private and link-local addresses too")
    add.add_argument("--id", help="document id (default: a hash of the text)")
    add.set_defaults(func=_cmd_add)
    ls = isub.add_parser("list", help="list the articles")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)
    rm = isub.add_parser("remove", help="remove an article")
    rm.add_argument("doc_id")
    rm.set_defaults(func=_cmd_remove)
    rb = isub.add_parser("rebuild", help="re-create a damaged index from its stored texts")
    rb.set_defaults(func=_cmd_rebuild)
    cp = isub.add_parser("compact", help="drop the rows of removed articles (after removing many)")
    cp.set_defaults(func=_cmd_compact)

    for register in command_plugins():
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``qa`` command.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :returns: the exit status: 0, 2 after a one-line ``qa: error:`` for a user error, 130 on Ctrl-C.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passes_through", False):
        args.eval_args = extra  # commands like `eval` parse their own options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings.configure_logging()
        args.index_dir = (args.index_dir or settings.index_dir()).expanduser()
        return int(args.func(args))
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
