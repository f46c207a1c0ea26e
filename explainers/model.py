"""The paper's MNIST network and its training loop (plain PyTorch, no Django).

"Two blocks of convolution plus max-pooling operations, followed by three fully
connected layers with dropout in-between, and a final softmax operation. The
number of hidden units for the three layers was 128, 128, and 10."
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import compute
from .files import atomic_write, file_sha256  # noqa: F401 (file_sha256: part of this module's API)

logger = logging.getLogger(__name__)

CONV_FEATURES = 64 * 5 * 5  # output of the second convolution block, flattened


class MnistCNN(nn.Module):
    """Logits for 10 digits. Accepts (n, 784) rows or (n, 1, 28, 28) images.

    ``features`` is the two convolution blocks, ``head`` the fully connected
    part; KAR on convolutional features explains and retrains ``head`` alone.
    The softmax is applied by :func:`probabilities` (training uses the logits).
    """

    def __init__(self, dropout: float = 0.4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = make_head(CONV_FEATURES, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the flat rows become images in the memory format in effect (channels_last by default)
        return self.head(self.features(compute.current().images(x.reshape(-1, 1, 28, 28))))


def new_model(seed: int, dropout: float = 0.4) -> MnistCNN:
    """A freshly initialised network whose weights depend only on ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MnistCNN(dropout)


def make_head(in_features: int, dropout: float = 0.4) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, 10),
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


def shift_images(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each 28x28 image by a random whole number of pixels, padding with 0."""
    if max_shift <= 0:
        return x
    n = x.shape[0]
    imgs = x.reshape(n, 28, 28)
    padded = nn.functional.pad(imgs, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(28))[:, :, None]  # (n, 28, 1)
    cols = (dx[:, None] + torch.arange(28))[:, None, :]  # (n, 1, 28)
    out = padded[torch.arange(n)[:, None, None], rows.to(x.device), cols.to(x.device)]
    return out.reshape(x.shape)


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
            if config.shift and xb.shape[1] == 784:
                xb = shift_images(xb, config.shift, gen)
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


def save_checkpoint(model: MnistCNN, path: str | Path) -> str:
    """Save the state dict; returns its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"arch": "MnistCNN", "state_dict": model.state_dict()}, buffer)
    atomic_write(path, buffer.getvalue())  # never leave a half-written checkpoint behind
    return file_sha256(path)


class CheckpointError(Exception):
    """The checkpoint file is missing or not one of ours."""


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> MnistCNN:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model checkpoint (train one with `manage.py train_model`)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        model = MnistCNN()
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # any unpickling/shape problem is a bad file, said in one line
        raise CheckpointError(f"{path}: not a MnistCNN checkpoint ({type(exc).__name__}: {exc})") from None
    return model.to(device).eval()


def resolve_device(name: str | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:1', or 'auto' (a GPU when there is one)."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA GPU is available on this machine")
    return device
