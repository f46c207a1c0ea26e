"""The paper's CNN (built for any image shape and number of classes; MNIST's by default), its
training loop, and the loading of our checkpoints or a researcher's own model (plain PyTorch, no Django).

"Two blocks of convolution plus max-pooling operations, followed by three fully
connected layers with dropout in-between, and a final softmax operation. The
number of hidden units for the three layers was 128, 128, and 10."
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import compute
from .data import MNIST_CLASSES, MNIST_SHAPE
from .files import atomic_write, file_sha256  # noqa: F401 (file_sha256: part of this module's API)

logger = logging.getLogger(__name__)

#: The paper's layer sizes: two 3x3 convolutions of 32 and 64 channels, each followed by a 2x2
#: max-pool, then fully connected layers of 128 and 128 units and one output per class.
CONV_CHANNELS = (32, 64)
HIDDEN = (128, 128)
KERNEL, POOL = 3, 2
MNIST_N_CLASSES = len(MNIST_CLASSES)


def conv_output_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(channels, height, width) after the two convolution blocks for images of ``shape``."""
    _, height, width = shape
    for _ in CONV_CHANNELS:
        height, width = (height - KERNEL + 1) // POOL, (width - KERNEL + 1) // POOL
    if height < 1 or width < 1:
        raise ValueError(
            f"images of {shape[1]} x {shape[2]} pixels are too small for the paper's CNN (at least 10 x 10)"
        )
    return CONV_CHANNELS[-1], height, width


def conv_features(shape: tuple[int, int, int]) -> int:
    """Outputs of the two convolution blocks, flattened: 1,600 for MNIST's 1 x 28 x 28."""
    return int(np.prod(conv_output_shape(shape)))


CONV_FEATURES = conv_features(MNIST_SHAPE)


class ImageCNN(nn.Module):
    """The paper's CNN for images of ``shape`` (channels, height, width) and ``n_classes`` classes:
    logits; accepts (n, C*H*W) rows or (n, C, H, W) images.

    ``features`` is the two convolution blocks, ``head`` the fully connected
    part; KAR on convolutional features explains and retrains ``head`` alone.
    The softmax is applied by :func:`probabilities` (training uses the logits).
    For MNIST (1 x 28 x 28, 10 classes) these are the paper's layers exactly.
    """

    def __init__(
        self, dropout: float = 0.4, shape: tuple[int, int, int] = MNIST_SHAPE, n_classes: int = MNIST_N_CLASSES
    ):
        super().__init__()
        self.shape = tuple(int(n) for n in shape)
        self.n_classes = int(n_classes)
        first, second = CONV_CHANNELS
        self.features = nn.Sequential(
            nn.Conv2d(self.shape[0], first, kernel_size=KERNEL),
            nn.ReLU(),
            nn.MaxPool2d(POOL),
            nn.Conv2d(first, second, kernel_size=KERNEL),
            nn.ReLU(),
            nn.MaxPool2d(POOL),
            nn.Flatten(),
        )
        self.head = make_head(conv_features(self.shape), dropout, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the flat rows become images in the memory format in effect (channels_last by default)
        return self.head(self.features(compute.current().images(x.reshape(-1, *self.shape))))


MnistCNN = ImageCNN  # the paper's MNIST network is ImageCNN's default


def architecture(model: ImageCNN) -> str:
    """The network in one line, as manifests record it."""
    channels, height, width = model.shape
    return (
        f"MnistCNN: {channels} x {height} x {width} -> 2 x (conv {KERNEL}x{KERNEL} + ReLU + max-pool {POOL}) "
        f"-> {' -> '.join(map(str, HIDDEN))} -> {model.n_classes}, dropout {model.head[2].p}"
    )


def new_model(
    seed: int, dropout: float = 0.4, shape: tuple[int, int, int] = MNIST_SHAPE, n_classes: int = MNIST_N_CLASSES
) -> ImageCNN:
    """A freshly initialised network whose weights depend only on ``seed`` (and the shape and classes)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ImageCNN(dropout, shape, n_classes)


def make_head(in_features: int, dropout: float = 0.4, n_classes: int = MNIST_N_CLASSES) -> nn.Sequential:
    first, second = HIDDEN
    return nn.Sequential(
        nn.Linear(in_features, first),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(first, second),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(second, n_classes),
    )


class Softmax(nn.Module):
    """Wraps a logit model so that its output is the class probabilities f(x)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x).float(), dim=1)  # in float32 also under bf16 autocast


def probabilities(model: nn.Module) -> nn.Module:
    """The model the explainers query: f(x) = softmax(logits), in eval mode."""
    return Softmax(model).eval()


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    shift: int = 1  # random translation by up to this many pixels (0: none)


def shift_images(x: torch.Tensor, max_shift: int, generator: torch.Generator, shape=MNIST_SHAPE) -> torch.Tensor:
    """Translate each image (rows of ``shape``, channels x height x width) by a random whole
    number of pixels, the same for all its channels, padding with 0."""
    if max_shift <= 0:
        return x
    n = x.shape[0]
    channels, height, width = shape
    imgs = x.reshape(n, channels, height, width)
    padded = nn.functional.pad(imgs, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(height))[:, :, None]  # (n, H, 1)
    cols = (dx[:, None] + torch.arange(width))[:, None, :]  # (n, 1, W)
    index = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[index, rows.to(x.device), cols.to(x.device)]  # (n, H, W, C)
    return out.permute(0, 3, 1, 2).reshape(x.shape)


def train(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    config: TrainConfig | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train ``model`` in place with Adam and cross-entropy; returns it in eval mode.

    ``transform`` is applied to every mini-batch after augmentation (KAR uses it
    to blank removed features). ``progress(epoch, loss)`` is called per epoch.
    The batches run with the :mod:`explainers.compute` setting in effect (memory
    format, precision); the loss and the optimizer's update stay in float32.
    """
    config = config or TrainConfig()
    torch.manual_seed(seed)  # weight init of a model built after this call; dropout masks
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    compute.current().prepare(model.to(device)).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(config.epochs, 1))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            xb = x[idx]
            shape = getattr(model, "shape", None)  # images of the model's own shape are shifted (not features)
            if config.shift and shape is not None and xb.shape[1] == int(np.prod(shape)):
                xb = shift_images(xb, config.shift, gen, shape)
            xb, yb = xb.to(device), y[idx].to(device)
            if transform is not None:
                xb = transform(xb)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(compute.forward(model, xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if progress is not None:
            progress(epoch + 1, total / len(x))
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray | torch.Tensor, batch_size: int = compute.FORWARD_BATCH) -> np.ndarray:
    """Predicted class of each row."""
    model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    out = [
        compute.forward(model, x[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def accuracy(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray) -> float:
    return float((predict(model, x) == np.asarray(y)).mean())


def save_checkpoint(model: ImageCNN, path: str | Path, classes: Sequence[str] | None = None) -> str:
    """Save the state dict with the image shape and the class names it was built for; returns its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, checkpoint_bytes(model, classes))  # never leave a half-written checkpoint behind
    return file_sha256(path)


def checkpoint_bytes(model: ImageCNN, classes: Sequence[str] | None = None) -> bytes:
    """The file :func:`save_checkpoint` writes (to write it together with others, atomically)."""
    buffer = io.BytesIO()
    blob = {"arch": ARCH, "state_dict": model.state_dict(), "shape": list(model.shape), "n_classes": model.n_classes}
    if classes is not None:
        blob["classes"] = list(classes)
    torch.save(blob, buffer)
    return buffer.getvalue()


#: The ``arch`` of our checkpoints ("MnistCNN": they were written before other shapes, and still are).
ARCH = "MnistCNN"


class CheckpointError(Exception):
    """The checkpoint file is missing, not one of ours, or not made for the data set's images and classes."""


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> ImageCNN:
    """One of our checkpoints (``save_checkpoint``), built for the shape and classes it records (MNIST's
    when it records none)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model checkpoint (train one with `manage.py train_model`)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        model = ImageCNN(
            shape=tuple(blob.get("shape", MNIST_SHAPE)), n_classes=int(blob.get("n_classes", MNIST_N_CLASSES))
        )
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # any unpickling/shape problem is a bad file, said in one line
        raise CheckpointError(f"{path}: not a MnistCNN checkpoint ({type(exc).__name__}: {exc})") from None
    model.classes = blob.get("classes")
    return model.to(device).eval()


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    shape: tuple[int, int, int] = MNIST_SHAPE,
    classes: Sequence[str] | None = None,
    model_class: str | None = None,
) -> nn.Module:
    """The model at ``path`` for images of ``shape`` and ``classes`` (of a data set), checked on load.

    ``path`` is one of our checkpoints, a TorchScript file (``torch.jit.save``), or, with
    ``model_class`` (``module:Class``, built with no arguments), a ``state_dict`` saved with
    ``torch.save``. Whatever it is, it must take (n, C*H*W) rows or (n, C, H, W) images and give
    one logit per class; a model that does not is refused in one line (:class:`CheckpointError`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such model checkpoint or model file (train one with `manage.py train_model`)"
        )
    if model_class:
        model = _state_dict_model(path, device, model_class)
    elif _is_torchscript(path):
        try:
            model = torch.jit.load(str(path), map_location=device)
        except Exception as exc:
            raise CheckpointError(f"{path}: not a TorchScript model ({type(exc).__name__}: {exc})") from None
    else:
        model = load_checkpoint(path, device)
        if tuple(model.shape) != tuple(shape):
            raise CheckpointError(
                f"{path}: made for images of {' x '.join(map(str, model.shape))}, but the data set's are "
                f"{' x '.join(map(str, shape))}"
            )
        recorded = getattr(model, "classes", None)
        if classes is not None and recorded is not None and list(recorded) != list(classes):
            raise CheckpointError(
                f"{path}: made for the classes {', '.join(recorded)}, but the data set's are {', '.join(classes)}"
            )
    _check_outputs(path, model, device, shape, len(classes) if classes is not None else MNIST_N_CLASSES)
    return model.eval()


def _is_torchscript(path: Path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in zf.namelist())


def _state_dict_model(path: Path, device, model_class: str) -> nn.Module:
    import importlib

    module_name, sep, class_name = model_class.partition(":")
    if not sep or not module_name or not class_name:
        raise CheckpointError(f"--model-class {model_class!r}: write module:Class, e.g. mypackage.nets:Net")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"--model-class {model_class!r}: cannot be imported ({exc})") from None
    try:
        model = cls()
    except Exception as exc:
        raise CheckpointError(
            f"--model-class {model_class!r}: {class_name}() failed ({type(exc).__name__}: {exc})"
        ) from None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        model.load_state_dict(state)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a state_dict of {model_class} ({type(exc).__name__}: {exc})") from None
    return model.to(device)


def _check_outputs(path: Path, model: nn.Module, device, shape, n_classes: int) -> None:
    """A forward pass of two blank images, as rows: (2, n_classes) logits, or a one-line refusal."""
    x = torch.zeros(2, int(np.prod(shape)), device=device)
    try:
        with torch.no_grad():
            out = model.eval()(x)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: does not take images of {' x '.join(map(str, shape))} as (n, {x.shape[1]}) rows "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if tuple(out.shape) != (2, n_classes):
        raise CheckpointError(
            f"{path}: gives outputs of shape {tuple(out.shape[1:])} per image, but the data set has {n_classes} classes"
        )


def resolve_device(name: str | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1', or 'auto' (a GPU when there is one)."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is available on this machine")
    return device
