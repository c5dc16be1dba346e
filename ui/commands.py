"""``qa serve``, contributed to the ``qa`` command through the ``grounded_qa.commands`` entry point
(so the core CLI imports nothing from ``ui``). Imports only argparse until the command runs."""

from __future__ import annotations

import argparse

from index.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the ``qa`` command's sub-commands."""
    srv = sub.add_parser("serve", help="run the browser app and its HTTP API")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=7860)
    srv.add_argument("--open", action="store_true", help="open a browser tab")
    srv.add_argument("--auth", metavar="USER:PASSWORD", help="require this login (UI and API)")
    srv.add_argument("--read-only", action="store_true", help="serve no add or remove")
    srv.add_argument("--allow-private-urls", action="store_true",
                     help="let clients add articles from loopback, private and link-local URLs")
    srv.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from ui.server import parse_auth, serve
    except ImportError as exc:  # the `ui` extra is not installed
        raise ConfigError(f"`qa serve` needs the ui extra ({exc.name} is missing): "
                          "pip install 'grounded-qa[ui]'") from exc
    serve(args.index_dir, host=args.host, port=args.port, open_browser=args.open,
          auth=parse_auth(args.auth), read_only=args.read_only,
          allow_private_urls=args.allow_private_urls)
    return 0
