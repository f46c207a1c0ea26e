"""Feature spaces: the data a cell trains and tests on, and the network it retrains.

``pixels``: the 784 input pixels; the retrained model is the whole CNN
(:func:`explainers.model.new_model`), with its random-shift augmentation.
``conv``: the 1,600 outputs of the second convolution block of the explained
checkpoint. That block is frozen: the features of every image are computed
once, and KAR retrains the fully connected part (``make_head(1600)``) from
scratch on the masked features (no augmentation: shifting applies to images).
The model the methods explain there is the checkpoint's own head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from explainers.model import make_head, new_model, probabilities

FEATURE_SETS = ("pixels", "conv")
NOISE_UNITS = {
    "range": "the feature range (max - min over the training data), the same for every feature",
    "std": "each feature's standard deviation over the training rows",
}


def _cnn(num_features: int, seed: int) -> nn.Module:
    if num_features != 784:
        raise ValueError(f"the CNN takes 784 pixels, not {num_features} features")
    return new_model(seed)


def _head(num_features: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_head(num_features)


# The networks a cell can retrain, by name (a name travels to worker processes; a function may not).
ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {"cnn": _cnn, "head": _head}


@dataclass
class FeatureSpace:
    """The data a cell trains and tests on, as CPU float32 tensors, plus the blanking values."""

    name: str
    architecture: str  # a key of ARCHITECTURES
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    means: torch.Tensor = field(init=False)
    scale: float = field(init=False)  # max - min over the training data
    description: str = ""
    noise: str = "range"  # the unit of noise levels: "range" (one for every feature) or "std" (each feature's own)

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r} (known: {', '.join(ARCHITECTURES)})")
        self.x_train = torch.as_tensor(self.x_train, dtype=torch.float32).contiguous()
        self.x_test = torch.as_tensor(self.x_test, dtype=torch.float32).contiguous()
        self.y_train = torch.as_tensor(self.y_train, dtype=torch.int64)
        self.y_test = torch.as_tensor(self.y_test, dtype=torch.int64)
        if self.x_train.ndim != 2 or self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise ValueError(
                f"x_train {tuple(self.x_train.shape)} and x_test {tuple(self.x_test.shape)} must be (n, d)"
            )
        self.means = self.x_train.double().mean(0).float()  # float64 sums: no drift over 60,000 rows
        self.scale = float(self.x_train.max() - self.x_train.min()) or 1.0
        if self.noise not in NOISE_UNITS:
            raise ValueError(f"unknown noise unit {self.noise!r} (known: {', '.join(NOISE_UNITS)})")

    @property
    def noise_unit(self) -> torch.Tensor:
        """(d,) float64: sigma = 1 means noise of this size in each feature (0 for a constant feature)."""
        if self.noise == "std":
            return self.x_train.double().std(0, unbiased=False)
        return torch.full((self.dim,), self.scale, dtype=torch.float64)

    @property
    def noise_unit_name(self) -> str:
        return NOISE_UNITS[self.noise]

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])

    def describe(self) -> dict:
        """The space as the manifest records it."""
        return {
            "features": self.dim,
            "train": len(self.y_train),
            "test": len(self.y_test),
            "description": self.description,
            "feature_range": self.scale,
            "noise_unit": self.noise_unit_name,
        }

    def build_model(self, seed: int) -> nn.Module:
        return ARCHITECTURES[self.architecture](self.dim, seed)


def pixel_space(data) -> FeatureSpace:
    """The 784 input pixels of an :class:`explainers.data.MnistData`."""
    return FeatureSpace(
        "pixels",
        "cnn",
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        description="784 input pixels; retrains the whole CNN (random-shift augmentation as in training)",
    )


@torch.no_grad()
def conv_features(model: nn.Module, x, batch_size: int = 1000) -> torch.Tensor:
    """Outputs of the checkpoint's second convolution block, flattened: (n, 1600), on the CPU.

    Through :func:`explainers.compute.forward` (channels_last, as every network batch), always in fp32:
    these features are the conv space's data, so they must not change with a run's ``--precision``.
    """
    from explainers.compute import Compute, forward, using

    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    with using(Compute(precision="fp32")) as compute:
        parts = [
            forward(model.features, compute.images(x[i : i + batch_size].to(device).reshape(-1, 1, 28, 28))).cpu()
            for i in range(0, len(x), batch_size)
        ]
    return torch.cat(parts) if parts else torch.zeros(0, model.head[0].in_features)


def conv_space(data, model: nn.Module, batch_size: int = 1000) -> FeatureSpace:
    """The frozen conv features of ``model`` (the explained checkpoint) for every image."""
    return FeatureSpace(
        "conv",
        "head",
        conv_features(model, data.x_train, batch_size),
        data.y_train,
        conv_features(model, data.x_test, batch_size),
        data.y_test,
        description="1600 outputs of the checkpoint's 2nd conv block (frozen); retrains make_head(1600) from scratch",
        noise="std",
    )


def explained_models(checkpoint: nn.Module) -> dict[str, nn.Module]:
    """f per feature set: softmax of the whole CNN on pixels, of its head on conv features."""
    return {"pixels": probabilities(checkpoint), "conv": probabilities(checkpoint.head)}
