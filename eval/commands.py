"""``qa eval`` and ``qa bench``, contributed to the ``qa`` command through the
``grounded_qa.commands`` entry point (so the core CLI imports nothing from ``eval``). Both
parse their own options; this module imports only argparse until a command runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``eval`` and ``bench`` to the ``qa`` command's sub-commands."""
    ev = sub.add_parser("eval", help="run the grounding eval suites (see `qa eval --help`)", add_help=False)
    ev.set_defaults(func=_eval, passes_through=True)
    bench = sub.add_parser("bench", help="benchmarks: speed, memory, scale (see `qa bench --help`)",
                           add_help=False)
    bench.set_defaults(func=_bench, passes_through=True)


def _eval(args: argparse.Namespace) -> int:
    from eval.run import main

    return main(args.eval_args)


def _bench(args: argparse.Namespace) -> int:
    """``qa bench``: eval.bench.compare; ``--scale``: eval.bench.scale; ``--during-add``:
    eval.bench.add_latency; ``--guide``: eval.bench.guide."""
    rest = [a for a in args.eval_args if a not in ("--scale", "--during-add", "--guide")]
    if "--guide" in args.eval_args:
        from eval.bench.guide import main
    elif "--scale" in args.eval_args:
        from eval.bench.scale import main
    elif "--during-add" in args.eval_args:
        from eval.bench.add_latency import main
    else:
        from eval.bench.compare import main
    return main(rest)
