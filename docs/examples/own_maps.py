"""Class maps computed outside the platform, written in the file format ``import_maps`` reads.

A stand-in for maps made with another library (Captum, your own code): Integrated Gradients and
SmoothGrad, in plain PyTorch, averaged over each class's training images. Each array is named by
the registry method it is shown as and has one map per class, (n_classes, H, W), in the data
set's label order; ``meta`` says what they are (``manage.py import_maps --help`` has the format).

    .venv/bin/python docs/examples/own_maps.py MODEL.pt IMAGE_FOLDER OUT.npz
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for its loaders

from explainers.imagefolder import load_imagefolder  # noqa: E402
from explainers.model import load_checkpoint  # noqa: E402

STEPS, SAMPLES, NOISE, PER_CLASS = 32, 16, 0.15, 20


def gradients(model, x: torch.Tensor, label: int) -> torch.Tensor:
    """d logit[label] / d x for each row of ``x``."""
    x = x.clone().requires_grad_(True)
    model(x)[:, label].sum().backward()
    return x.grad


def integrated_gradients(model, x: torch.Tensor, label: int) -> torch.Tensor:
    """From a black image to ``x`` in STEPS steps (midpoint rule), per input value."""
    total = torch.zeros_like(x)
    for step in range(STEPS):
        total += gradients(model, x * (step + 0.5) / STEPS, label)
    return x * total / STEPS


def smoothgrad(model, x: torch.Tensor, label: int, generator: torch.Generator) -> torch.Tensor:
    """The mean gradient over SAMPLES noisy copies of ``x`` (noise sd NOISE), per input value."""
    total = torch.zeros_like(x)
    for _ in range(SAMPLES):
        total += gradients(model, x + NOISE * torch.randn(x.shape, generator=generator), label)
    return total / SAMPLES


def main(model_path: str, folder: str, out: str) -> None:
    data = load_imagefolder(folder)
    model = load_checkpoint(model_path).eval()
    generator = torch.Generator().manual_seed(0)
    channels, height, width = data.shape
    maps = {"ig": [], "smoothgrad": []}
    for label in range(data.n_classes):
        x = torch.as_tensor(data.x_train[data.y_train == label][:PER_CLASS])
        for name, attribution in (
            ("ig", integrated_gradients(model, x, label)),
            ("smoothgrad", smoothgrad(model, x, label, generator)),
        ):
            per_pixel = attribution.reshape(len(x), channels, height, width).abs().sum(dim=1)  # channels summed
            maps[name].append(per_pixel.mean(dim=0).numpy())
    meta = {
        "labels": {
            "ig": f"Integrated Gradients ({STEPS} steps from black), |attribution| summed over channels",
            "smoothgrad": f"SmoothGrad ({SAMPLES} samples, noise sd {NOISE}), |gradient| summed over channels",
        },
        "source": "docs/examples/own_maps.py (plain PyTorch)",
    }
    np.savez(out, **{name: np.stack(rows) for name, rows in maps.items()}, meta=np.array(json.dumps(meta)))
    print(f"wrote {out}: {', '.join(maps)} maps of {data.n_classes} classes at {height} x {width}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: own_maps.py MODEL.pt IMAGE_FOLDER OUT.npz")
    main(*sys.argv[1:])
