"""Options and error handling shared by the management commands (generation, training, KAR)."""

from __future__ import annotations

import platform
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from .data import MnistData, MnistDataError, load_mnist


def default_model_path() -> Path:
    return Path(settings.DATA_DIR) / "model" / "mnist_cnn.pt"


def default_explanations_dir() -> Path:
    return Path(settings.DATA_DIR) / "explanations" / "default"


def add_common_options(parser, seed: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, or auto (a GPU when there is one; default)"
    )
    parser.add_argument(
        "--mnist-dir",
        default=None,
        help="folder with the official MNIST IDX files (plain or .gz) or mnist.npz; default: the embedded 5k subset",
    )


def load_data(mnist_dir: str | None) -> MnistData:
    try:
        return load_mnist(mnist_dir)
    except MnistDataError as exc:
        raise CommandError(str(exc)) from None


def device(name: str):
    from .model import resolve_device

    try:
        return resolve_device(name)
    except (ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None


def add_precision_option(parser) -> None:
    from .compute import DEFAULT_PRECISION, PRECISIONS

    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help="arithmetic of the network's batches: fp32, or bf16 autocast where the hardware has it (default %(default)s)",
    )


def compute(precision: str, device):
    """The :class:`explainers.compute.Compute` of ``--precision`` on ``device``; one line where it cannot run."""
    from .compute import Compute, PrecisionUnsupported

    try:
        return Compute(precision=precision).check(device)
    except PrecisionUnsupported as exc:
        raise CommandError(str(exc)) from None


def positive(name: str, value) -> None:
    if value is None or value <= 0:
        raise CommandError(f"--{name} must be a positive number (got {value})")


def versions() -> dict[str, str]:
    import django
    import numpy
    import scipy
    import sklearn
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "django": django.get_version(),
    }
