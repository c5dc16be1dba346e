"""Writing a trained reader (``qa/reader.py``): its weights without the word embeddings the
model package ships, in half precision, and its record, with a fixed pair's scores that the load
test checks a fresh load reproduces and its calibrated int8 input ranges. Used by ``eval.train.reader`` and
``eval.train.squad2_reader``."""

from __future__ import annotations

import json
from pathlib import Path

from eval.train.calibrate_int8 import calibrate
from qa.reader import WORD_EMBEDDINGS

CHECK_PAIR = (
    "How many rockets did Hamas fire on Sunday?",
    "On Sunday, Hamas fired about 10 rockets from the Rafah border crossing area, the IDF said.",
)


def write_reader(model, out: Path, info: dict, name: str = "reader") -> None:
    """``model``'s weights (half precision, without the word embeddings the package ships) and
    ``info`` written to ``out`` as the reader's two files ``name``.safetensors and ``name``.json,
    with the fixed pair's scores added to ``info``."""
    import torch
    from safetensors.torch import save_file

    from qa.reader import Reader

    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()
             if k != WORD_EMBEDDINGS and not k.endswith("position_ids")}
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / f"{name}.safetensors"))
    (out / f"{name}.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    # The fixed pair's scores as the saved (half-precision) weights give them in float32 (the
    # same on every CPU): the load test checks that a fresh load reproduces them.
    with torch.inference_mode():
        reading = Reader(out, name, precision="float32").read(CHECK_PAIR[0], [CHECK_PAIR[1]])[0]
    info["check"] = {"question": CHECK_PAIR[0], "sentence": CHECK_PAIR[1], "start": reading.start,
                     "end": reading.end, "span_score": round(reading.span_score, 4),
                     "null_score": round(reading.null_score, 4)}
    (out / f"{name}.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    calibrate(out, name)  # its int8 input scales (eval.train.calibrate_int8), from the saved weights
    print(f"wrote {out}/{name}.safetensors and {name}.json: {info.get('validation')}", flush=True)
