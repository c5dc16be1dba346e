"""Start the real Gradio app on loopback for tests (in-process, its own temp library)."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(index_dir: Path):
    """Launch the app; returns (demo, url). The caller closes it with ``demo.close()``."""
    from qa.service import QAService
    from ui.app import build_app, launch_kwargs

    svc = QAService.open_library(index_dir)
    svc.index.embedder.encode_one("warm up")
    demo = build_app(svc, index_dir)
    demo.queue(default_concurrency_limit=4)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs()
    )
    return demo, f"http://127.0.0.1:{port}/"
