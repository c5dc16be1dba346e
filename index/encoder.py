"""The library's encoder: all-MiniLM-L6-v2 fine-tuned here on both sides of dense retrieval.

One encoder embeds the library's sentences and passages and the questions asked of them (a
symmetric dual encoder, as the bundled model), fine-tuned by ``python -m eval.train.encoder`` on
SQuAD v1.1 train articles so that a question lands nearest the sentence that answers it, also
when it is asked in other words. Same architecture and pooling as the bundled model (mean of
the last layer's tokens, unit length).

The weights ship in ``index/models/encoder.safetensors`` without the word-embedding matrix
(frozen in training, read from the bundled package), in half precision; ``encoder.json`` records
its name (``Config.model_name``, ending in the weights' checksum: a library records the model
its vectors came from and is embedded again on open when that is another), how it was trained,
and a fixed question with the first values of its vector when saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.weights import bundled_model_path, load_fine_tuned, loaded_once, shipped_files

MODEL_DIR = Path(__file__).parent / "models"
NAME = "encoder"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
QUESTION_TOKENS = 64  # a question is cut here, as in training
TEXT_TOKENS = 256  # a sentence or passage is cut here (the bundled model's own limit)
TRAIN_COMMAND = "python -m eval.train.encoder"


def build_encoder(pretrained: bool = True) -> Any:
    """The bundled encoder as a ``BertModel`` (no pooler): its pretrained weights (for
    training), or empty on torch's "meta" device, to be filled by ``load_state_dict(...,
    assign=True)`` (to load trained weights quickly)."""
    import torch
    from transformers import AutoConfig, AutoModel, logging

    logging.set_verbosity_error()
    path = bundled_model_path()
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    if not pretrained:
        with torch.device("meta"):
            return AutoModel.from_config(config, add_pooling_layer=False)
    return AutoModel.from_pretrained(path, config=config, add_pooling_layer=False, local_files_only=True)


def pooled(model: Any, inputs: dict[str, Any]) -> Any:
    """Unit-length mean of the last layer's token vectors (the bundled model's own pooling):
    the one forward used in training and in serving."""
    import torch

    hidden = model(**inputs).last_hidden_state.float()  # pooled in float32 whatever it ran in
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


def tokenize(tokenizer: Any, texts: list[str], max_length: int = QUESTION_TOKENS) -> dict[str, Any]:
    """Token ids of ``texts`` (cut to ``max_length``), as torch tensors."""
    return dict(tokenizer(texts, truncation=True, max_length=max_length, padding=True,
                          return_tensors="pt"))


def load_tokenizer() -> Any:
    """The bundled model's tokenizer (the fine-tuned encoders keep its vocabulary)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)


def load_encoder(directory: Path = MODEL_DIR) -> tuple[dict[str, Any], Any]:
    """``(info, model)``: the settings and the float32 ``BertModel`` of the encoder shipped in
    ``directory``, in eval mode. One clear ``QAError`` when its files are missing or do not fit."""
    info, weights_path = shipped_files(directory, NAME, "encoder", TRAIN_COMMAND)
    model = build_encoder(pretrained=False)
    load_fine_tuned(model, weights_path, WORD_EMBEDDINGS, "encoder")
    return info, model


def shipped_encoder() -> tuple[dict[str, Any], Any, Any]:
    """``(info, model, tokenizer)`` of the shipped encoder in float32, loaded once per process
    (the library's embedder; questions may run in another precision, ``qa/qencoder.py``)."""
    return loaded_once(f"encoder:{MODEL_DIR}", lambda: (*load_encoder(), load_tokenizer()))
