"""How the shipped encoders run on this CPU: float32, bfloat16 where the CPU multiplies it
natively, or int8 linear layers, optionally keeping the feed-forward output layers out of int8
(one of :data:`PRECISIONS`, or "auto").

The feed-forward output layers take the GELU's output, whose few large channels per-tensor int8 quantizes
worst: measured on the reader's 1,500 validation pairs (after its first 2,400 steps), exact
span 0.421 all-int8, 0.457 with them in bf16, 0.470 in float32; on the earlier question-only encoder,
dense-only hit@1 on the 3,019 answerable SQuAD 2.0 questions 0.696 all-int8, 0.702 with them
in bf16, 0.705 in bf16 throughout, at 4.5 / 5.7 / 7.7 ms per question on one thread.

An int8 layer quantizes its input with one scale. ``torch`` dynamic quantization takes it from
each forward pass's own values, so a text's scores depend on what else (other texts, their
padding) is in the pass. A model whose record holds calibrated input ranges (``input_ranges``,
written by ``eval.train.calibrate_int8``) gets layers with those scales fixed instead (static input
quantization, per-channel int8 weights, float32 output: fbgemm's
``quantized::linear_with_input_q_dq_qweight_dq_output_fp32``): a text scores exactly the same
whatever it is read with, and a pass is a little faster (no range to find). Measured on the
reader's 1,500 validation examples and the encoder's questions: ``python -m eval.train.calibrate_int8
--measure`` (figures in docs/models.md, "Precision").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from index.errors import ConfigError, QAError

# what Config.question_encoder_precision and Config.reader_precision may say ("int8-mixed": int8
# but the feed-forward output layers; "auto": bfloat16 where the CPU has it natively, else the
# model's own fallback)
PRECISIONS = ("auto", "float32", "bfloat16", "int8", "int8-mixed")


def bf16_native() -> bool:
    """Whether the CPU multiplies bf16 natively (AVX-512 BF16 or AMX): there bf16 is faster than
    float32; elsewhere torch emulates it, slower."""
    import torch

    return any(getattr(torch.cpu, f, lambda: False)() for f in
               ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))  # private but stable since 2.1


def _is_ffn_output(name: str) -> bool:
    return name.endswith("output.dense") and ".attention." not in name


def static_int8_linear(linear: Any, lo: float, hi: float) -> Any:
    """``linear`` in int8 with its input quantized on the fixed range ``[lo, hi]`` (0 included;
    values beyond it saturate): per-channel int8 weights, float32 in and out."""
    import torch

    class StaticInt8Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = linear.weight.detach().float()
            scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
            wq = torch.quantize_per_channel(w, scales, torch.zeros(len(w), dtype=torch.long), 0, torch.qint8)
            bias = None if linear.bias is None else linear.bias.detach().float()
            self.packed = torch.ops.quantized.linear_prepack(wq, bias)
            low, high = min(float(lo), 0.0), max(float(hi), 0.0)
            self.scale = max(high - low, 1e-8) / 255.0
            self.zero_point = int(round(-low / self.scale))
            self.out_features = len(w)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            flat = x.reshape(-1, x.shape[-1]).float().contiguous()
            y = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
                flat, self.scale, self.zero_point, self.packed)
            return y.reshape(*x.shape[:-1], self.out_features)

    return StaticInt8Linear()


def _replace(model: Any, name: str, make: Any) -> None:
    """Put ``make(layer)`` in the place of ``model``'s submodule ``name``."""
    parent, _, leaf = name.rpartition(".")
    module = model.get_submodule(parent)
    setattr(module, leaf, make(getattr(module, leaf)))


def quantize_int8(model: Any, keep_ffn_output: bool = False,
                  input_ranges: Mapping[str, Sequence[float]] | None = None) -> Any:
    """The model with its linear layers in int8 (per-channel weights): those named in
    ``input_ranges`` (layer name -> calibrated ``[lo, hi]`` of its input) with that input scale
    fixed, the others with dynamic quantization (a scale per pass). With ``keep_ffn_output``,
    the feed-forward output layers stay out of int8: in bf16 where the CPU has it natively,
    else in float32."""
    import warnings

    import torch

    class Bf16Linear(torch.nn.Module):
        """A linear layer computed in bf16, taking and giving float32."""

        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.linear = linear.to(torch.bfloat16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.to(torch.bfloat16)).float()

    linears = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    kept = {n for n in linears if _is_ffn_output(n)} if keep_ffn_output else set()
    if kept and bf16_native():
        for name in kept:
            _replace(model, name, Bf16Linear)
    fixed = {n for n in linears - kept if n in (input_ranges or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's quantized tensors are deprecated but kept in 2.13
        for name in fixed:
            _replace(model, name, lambda layer, name=name: static_int8_linear(layer, *input_ranges[name]))
        # weights with a scale per output channel: on the reader's validation sentences exact
        # span 0.483 against 0.474 with one scale per layer, has-answer AUROC 0.922 against 0.912
        # (`python -m eval.probes.reader_validation`),
        # at the same speed (a dynamic layer's activations keep one scale per pass either way)
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(model, dict.fromkeys(linears - kept - fixed, qconfig),
                                                      dtype=torch.qint8)


def input_ranges(info: Mapping[str, Any], record: Path) -> dict[str, tuple[float, float]] | None:
    """The calibrated input range of each linear layer in a model's record ``info`` (its
    ``input_ranges``, written by ``eval.train.calibrate_int8``; ``record`` names the file in errors):
    its int8 layers then quantize with fixed scales, so a text scores the same whatever it is
    read with. None when the model was not calibrated."""
    ranges = info.get("input_ranges")
    if ranges is None:
        return None
    try:
        out = {str(k): (float(lo), float(hi)) for k, (lo, hi) in ranges.items()}
    except (AttributeError, TypeError, ValueError):
        raise QAError(f"{record}: input_ranges must map layer names to [low, high]") from None
    if not all(math.isfinite(lo) and math.isfinite(hi) and lo <= hi for lo, hi in out.values()):
        raise QAError(f"{record}: input_ranges must be finite, low <= high")
    return out


def resolve_precision(precision: str, fallback: str = "float32", setting: str = "precision") -> str:
    """``precision`` checked, with "auto" resolved: "bfloat16" on a CPU with native bf16 products
    (AVX-512 BF16 or AMX), where it is faster than float32 and about as exact, else
    ``fallback`` (there bf16 would be emulated, slower). Raises ``ConfigError`` naming
    ``setting`` for a value not in :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"{setting} must be one of {', '.join(PRECISIONS)}, not {str(precision)[:40]!r}")
    if precision != "auto":
        return precision
    return "bfloat16" if bf16_native() else fallback


def apply_precision(model: Any, precision: str,
                    input_ranges: Mapping[str, Sequence[float]] | None = None) -> Any:
    """``model`` running in ``precision`` (resolved: not "auto"); float32 leaves it as it is.
    ``input_ranges``: calibrated input ranges of its linear layers, for int8 (above)."""
    if precision in ("int8", "int8-mixed"):
        return quantize_int8(model, keep_ffn_output=precision == "int8-mixed", input_ranges=input_ranges)
    if precision == "bfloat16":  # matrix products in bf16 where the CPU has them
        import torch

        return model.to(torch.bfloat16)
    return model
