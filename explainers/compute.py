"""How the network's batches are computed: memory format and precision, in one place (no Django).

Every forward and backward batch of the explainers (``explainers.methods``) and of
training and prediction (``explainers.model``) runs through :func:`forward` and the
:class:`Compute` in effect, so a command chooses the precision once with
:func:`using` and everything below it follows.

- **Memory format.** ``channels_last`` (NHWC) is the default: oneDNN's convolutions
  and pooling run faster on it than on NCHW; results equal the contiguous layout's
  up to float rounding (``benchmarks/lime_throughput.py`` measures the speed).
- **Precision.** ``fp32`` is the default; ``bf16`` runs the network under
  ``torch.autocast`` in bfloat16 (the outputs are returned in float32). It is refused
  where the hardware has no bfloat16 arithmetic, where it would only be emulated
  (slower than fp32). ``benchmarks/precision_fidelity.py`` measures its fidelity.

A ``ContextVar`` holds the setting in effect, as ``torch.autocast`` itself does, so
the methods keep their signatures and any callable model still works: the memory
format applies to 4-D image batches only and autocast to whatever the model runs.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16")
MEMORY_FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
DEFAULT_PRECISION = "fp32"  # bf16 is opt-in: it fails issue 10's fidelity rule on a trained model (README)
DEFAULT_MEMORY_FORMAT = "channels_last"

#: Rows per forward pass (no gradient), the fastest measured with benchmarks/lime_throughput.py on 2 CPU cores.
FORWARD_BATCH = 250
#: Rows per forward + backward pass (gradient methods) and SHAP's forward batch, the fastest with benchmarks/batch_sizes.py.
BACKWARD_BATCH = 250


class PrecisionUnsupported(ValueError):
    """The hardware has no native arithmetic for the asked precision (a one-line message)."""


@dataclass(frozen=True)
class Compute:
    """The memory format and precision of the network's batches."""

    precision: str = DEFAULT_PRECISION
    memory_format: str = DEFAULT_MEMORY_FORMAT

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r} (choose one of {', '.join(PRECISIONS)})")
        if self.memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"unknown memory format {self.memory_format!r} (choose one of {', '.join(MEMORY_FORMATS)})"
            )

    def check(self, device: str | torch.device = "cpu") -> Compute:
        """Self, or :class:`PrecisionUnsupported` when ``device`` cannot run this precision natively."""
        device = torch.device(device)
        if self.precision == "bf16" and not bf16_supported(device):
            what = "GPU" if device.type == "cuda" else "CPU"
            raise PrecisionUnsupported(
                f"--precision bf16: this {what} has no native bfloat16 arithmetic "
                f"({'torch.cuda.is_bf16_supported()' if device.type == 'cuda' else 'AVX512-BF16 or AMX'}); use fp32"
            )
        return self

    def autocast(self, device: str | torch.device):
        """The autocast context of this precision on ``device`` (disabled for fp32)."""
        device_type = torch.device(device).type
        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` with its 4-D (convolution) weights in this memory format, in place."""
        return model.to(memory_format=MEMORY_FORMATS[self.memory_format])

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """A 4-D image batch in this memory format (a view when the layout already fits)."""
        return x.contiguous(memory_format=MEMORY_FORMATS[self.memory_format]) if x.dim() == 4 else x

    def describe(self) -> dict[str, str]:
        """What a manifest records."""
        return {"precision": self.precision, "memory_format": self.memory_format}


def bf16_supported(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` has native bfloat16 arithmetic (CPU: AVX512-BF16 or AMX through oneDNN)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


_current: contextvars.ContextVar[Compute] = contextvars.ContextVar("compute", default=Compute())


def current() -> Compute:
    """The :class:`Compute` in effect (the default: fp32, channels_last)."""
    return _current.get()


@contextlib.contextmanager
def using(compute: Compute) -> Iterator[Compute]:
    """Run the block's network batches with ``compute``."""
    token = _current.set(compute)
    try:
        yield compute
    finally:
        _current.reset(token)


def forward(model, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` under the precision in effect, as float32 (gradients flow through it)."""
    compute = current()
    if isinstance(model, nn.Module):
        compute.prepare(model)  # cheap when already in the format: no copy
    with compute.autocast(x.device):
        out = model(x)
    return out.float()
