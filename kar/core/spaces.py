"""Feature spaces: the data a cell trains and tests on, and the network it retrains.

``pixels``: the C x H x W input values of the data set's images (784 for MNIST,
3,072 for 3 x 32 x 32 RGB), each channel's value of a pixel a feature of its own:
a ranking orders the C*H*W values and removal blanks each value alone (the
methods attribute per value, so no rule for merging channels is imposed). The
retrained model is the paper's whole CNN built for that image shape and number
of classes (:func:`explainers.model.new_model`), with its random-shift
augmentation.
``conv``: the outputs of the second convolution block of the explained
checkpoint (:func:`explainers.model.conv_features` of the shape: 1,600 for
MNIST, 2,304 for 32 x 32 images). That block is frozen: the features of every
image are computed once, and KAR retrains the fully connected part
(``make_head(features, n_classes=...)``) from scratch on the masked features (no
augmentation: shifting applies to images). The model the methods explain there
is the checkpoint's own head, so the conv space needs the paper's CNN
(:class:`~explainers.model.ImageCNN`, with ``features`` and ``head``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from explainers.model import MNIST_N_CLASSES, MNIST_SHAPE, conv_output_shape, make_head, new_model, probabilities

FEATURE_SETS = ("pixels", "conv")
NOISE_UNITS = {
    "range": "the feature range (max - min over the training data), the same for every feature",
    "std": "each feature's standard deviation over the training rows",
}


class SpaceError(ValueError):
    """A feature space cannot be made from this data or model (a user mistake, said in one line)."""


def _cnn(space: FeatureSpace, seed: int) -> nn.Module:
    if space.shape is None or space.dim != int(np.prod(space.shape)):
        shape = "no image shape" if space.shape is None else f"images of {' x '.join(map(str, space.shape))}"
        raise ValueError(f"the CNN takes image rows, not {space.dim} features with {shape}")
    return new_model(seed, shape=space.shape, n_classes=space.n_classes)


def _head(space: FeatureSpace, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_head(space.dim, n_classes=space.n_classes)


# The networks a cell can retrain, by name (a name travels to worker processes; a function may not).
ARCHITECTURES: dict[str, Callable[[FeatureSpace, int], nn.Module]] = {"cnn": _cnn, "head": _head}


@dataclass
class FeatureSpace:
    """The data a cell trains and tests on, as CPU float32 tensors, plus the blanking values.

    ``shape`` is the (channels, height, width) the rows have as images (the pixel space), or
    the conv block's output shape; ``n_classes`` the number of classes (labels 0 .. n - 1),
    by default one more than the largest label.
    """

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
    shape: tuple[int, int, int] | None = None
    n_classes: int | None = None

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
        if self.shape is not None:
            self.shape = tuple(int(n) for n in self.shape)
        if self.n_classes is None:
            labels = torch.cat([self.y_train, self.y_test])
            self.n_classes = int(labels.max()) + 1 if len(labels) else 0
        self.n_classes = int(self.n_classes)

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
        """The space as the manifest records it (the report names the features from ``features`` and ``shape``)."""
        return {
            "features": self.dim,
            **({"shape": list(self.shape)} if self.shape is not None else {}),
            "classes": self.n_classes,
            "train": len(self.y_train),
            "test": len(self.y_test),
            "description": self.description,
            "feature_range": self.scale,
            "noise_unit": self.noise_unit_name,
        }

    def build_model(self, seed: int) -> nn.Module:
        return ARCHITECTURES[self.architecture](self, seed)


def _layout(data) -> tuple[tuple[int, int, int], int]:
    """(shape, number of classes) of an :class:`explainers.data.ImageData` (MNIST's for bare arrays)."""
    return tuple(getattr(data, "shape", MNIST_SHAPE)), int(getattr(data, "n_classes", MNIST_N_CLASSES))


def _times(shape) -> str:
    return " x ".join(map(str, shape))


def pixel_space(data) -> FeatureSpace:
    """The C x H x W input values of an :class:`explainers.data.ImageData`, each a feature."""
    shape, n_classes = _layout(data)
    return FeatureSpace(
        "pixels",
        "cnn",
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        description=f"{int(np.prod(shape))} input {'pixels' if shape[0] == 1 else f'values ({_times(shape)})'}; "
        "retrains the whole CNN (random-shift augmentation as in training)",
        shape=shape,
        n_classes=n_classes,
    )


def has_conv_features(model: nn.Module) -> bool:
    """Whether ``model`` is the paper's CNN: a ``features`` block, a ``head``, and the image ``shape``."""
    return all(hasattr(model, name) for name in ("features", "head", "shape"))


@torch.no_grad()
def conv_features(model: nn.Module, x, batch_size: int = 1000) -> torch.Tensor:
    """Outputs of the checkpoint's second convolution block, flattened: (n, 1600) for MNIST, on the CPU.

    Through :func:`explainers.compute.forward` (channels_last, as every network batch), always in fp32:
    these features are the conv space's data, so they must not change with a run's ``--precision``.
    """
    from explainers.compute import Compute, forward, using

    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    shape = tuple(model.shape)
    model.eval()
    with using(Compute(precision="fp32")) as compute:
        parts = [
            forward(model.features, compute.images(x[i : i + batch_size].to(device).reshape(-1, *shape))).cpu()
            for i in range(0, len(x), batch_size)
        ]
    return torch.cat(parts) if parts else torch.zeros(0, model.head[0].in_features)


def conv_space(data, model: nn.Module, batch_size: int = 1000) -> FeatureSpace:
    """The frozen conv features of ``model`` (the explained checkpoint) for every image."""
    if not has_conv_features(model):
        raise SpaceError(
            "the conv feature set needs the paper's CNN (a features block and a head, as train_model's "
            "checkpoints have); this model has none: use --feature-sets pixels"
        )
    shape, n_classes = _layout(data)
    if tuple(model.shape) != shape:
        raise SpaceError(f"the model takes images of {_times(model.shape)}, the data set's are {_times(shape)}")
    out = conv_output_shape(shape)
    features = int(np.prod(out))
    return FeatureSpace(
        "conv",
        "head",
        conv_features(model, data.x_train, batch_size),
        data.y_train,
        conv_features(model, data.x_test, batch_size),
        data.y_test,
        description=f"{features} outputs ({_times(out)}) of the checkpoint's 2nd conv block (frozen); "
        f"retrains make_head({features}) from scratch",
        noise="std",
        shape=out,
        n_classes=n_classes,
    )


def explained_models(checkpoint: nn.Module) -> dict[str, nn.Module]:
    """f per feature set: softmax of the whole model on pixels, of the CNN's head on conv features (if it has one)."""
    models = {"pixels": probabilities(checkpoint)}
    if has_conv_features(checkpoint):
        models["conv"] = probabilities(checkpoint.head)
    return models
