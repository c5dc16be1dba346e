"""How the shipped encoders run on this CPU: float32, bfloat16 where the CPU multiplies it
natively, or int8 linear layers (``torch`` dynamic quantization), optionally keeping the
feed-forward output layers out of int8 (one of :data:`PRECISIONS`, or "auto").

Those layers take the GELU's output, whose few large channels per-tensor int8 quantizes
worst: measured on the reader's 1,500 validation pairs (after its first 2,400 steps), exact
span 0.421 all-int8, 0.457 with them in bf16, 0.470 in float32; on the earlier question-only encoder,
dense-only hit@1 on the 3,019 answerable SQuAD 2.0 questions 0.696 all-int8, 0.702 with them
in bf16, 0.705 in bf16 throughout, at 4.5 / 5.7 / 7.7 ms per question on one thread.
"""

from __future__ import annotations

from typing import Any

from index.errors import ConfigError

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


def quantize_int8(model: Any, keep_ffn_output: bool = False) -> Any:
    """The model with its linear layers in int8 (dynamic quantization, per-channel weights). With
    ``keep_ffn_output``, the feed-forward output layers stay out of int8: in bf16 where the CPU
    has it natively, else in float32."""
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
            parent, _, leaf = name.rpartition(".")
            module = model.get_submodule(parent)
            setattr(module, leaf, Bf16Linear(getattr(module, leaf)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated but kept in 2.13
        # weights with a scale per output channel: on the reader's validation sentences exact
        # span 0.483 against 0.474 with one scale per layer, has-answer AUROC 0.922 against 0.912
        # (`python -m eval.reader_validation`),
        # at the same speed (activations keep one scale per pass either way)
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(model, dict.fromkeys(linears - kept, qconfig),
                                                      dtype=torch.qint8)


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


def apply_precision(model: Any, precision: str) -> Any:
    """``model`` running in ``precision`` (resolved: not "auto"); float32 leaves it as it is."""
    if precision in ("int8", "int8-mixed"):
        return quantize_int8(model, keep_ffn_output=precision == "int8-mixed")
    if precision == "bfloat16":  # matrix products in bf16 where the CPU has them
        import torch

        return model.to(torch.bfloat16)
    return model
