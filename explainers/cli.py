"""Options and error handling shared by the management commands (generation, training, KAR)."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from . import data
from .data import DataError, ImageData
from .files import DiskFull, is_disk_full


def default_model_path() -> Path:
    return Path(settings.DATA_DIR) / "model" / "mnist_cnn.pt"


def default_mnist_dir() -> Path:
    """Where ``fetch_mnist`` writes the official MNIST files (read them with ``--data mnist:DIR``)."""
    return Path(settings.DATA_DIR) / "mnist"


def default_explanations_dir() -> Path:
    return Path(settings.DATA_DIR) / "explanations" / "default"


def add_common_options(parser, seed: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, or auto (a GPU when there is one; default)"
    )
    add_data_options(parser)


def add_data_options(parser) -> None:
    """``--data``, ``--resize`` and the older ``--mnist-dir``: the options of every command that reads images."""
    parser.add_argument(
        "--data",
        default=None,
        metavar="mnist|mnist:DIR|imagefolder:DIR",
        help="the images: mnist (the embedded 5k MNIST subset; default), mnist:DIR (the official MNIST files in DIR, "
        "as fetch_mnist writes them) "
        "or imagefolder:DIR (one folder of PNG/JPEG images per class, optional train/ and test/)",
    )
    parser.add_argument(
        "--resize", default=None, metavar="H,W", help="bring an image folder's images to H x W pixels (default: keep)"
    )
    parser.add_argument(
        "--mnist-dir",
        default=None,
        help="folder with the official MNIST IDX files (plain or .gz) or mnist.npz; the same as --data mnist:DIR",
    )


def load_data(opts: dict | str | None) -> ImageData:
    """The data set the command's options (see :func:`add_data_options`) name; a ``str`` or None is
    an MNIST folder, as ``--mnist-dir`` alone. A user's mistake is one line."""
    if not isinstance(opts, dict):
        opts = {"mnist_dir": opts}
    try:
        return data.load_data(opts.get("data"), opts.get("mnist_dir"), data.parse_resize(opts.get("resize")))
    except DataError as exc:
        raise CommandError(str(exc)) from None


def add_train_size_option(parser, default: int | None = None) -> None:
    """``--train-size N``: train on a stratified subset of the data's training images (see
    :func:`train_subset`); ``default`` is the size without the option (None: all of them)."""
    what = "all of them" if default is None else f"{default}, or all of them where the data has fewer"
    parser.add_argument(
        "--train-size",
        type=int,
        default=None,
        metavar="N",
        help=f"train on N of the data's training images, stratified by class and the same N images for every "
        f"command and --seed; the test images are always all of them (default {what})",
    )


def train_subset(data: ImageData, size: int | None, default: int | None = None) -> ImageData:
    """``data`` with the training subset ``--train-size`` asks for (``default`` without it, where the data
    has more; None: all of them). A size it cannot have is one line."""
    if size is None:
        if default is None or default >= len(data.y_train):
            return data
        size = default
    positive("train-size", size)
    try:
        return data.train_subset(size)
    except DataError as exc:
        raise CommandError(f"--train-size: {exc}") from None


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


def add_model_class_option(parser) -> None:
    parser.add_argument(
        "--model-class",
        default=None,
        metavar="module:Class",
        help="the model is a state_dict of this class (built with no arguments); without it --model is one of our "
        "checkpoints or a TorchScript file",
    )


def load_model(path: Path, device, data: ImageData, model_class: str | None = None):
    """The model at ``path`` checked against ``data``'s image shape and classes; a mismatch is one line."""
    from .model import CheckpointError
    from .model import load_model as load

    try:
        return load(path, device, data.shape, data.classes, model_class)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None


@contextmanager
def stops_on_a_full_disk(where: str | Path, *, resumes: bool) -> Iterator[None]:
    """A full disk (or a spent quota) met inside as one line: the file that did not fit (else ``where``,
    the command's output), the space it needs where known and the space free, and what to do.

    Every write of the commands is atomic or undone on failure (``explainers.files``), so nothing is
    half-written under a final name and running the command again is safe; ``resumes`` says whether
    it also continues from what is saved (say so only for the commands that do).
    """
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        again = "run the same command again" + (" (it resumes)" if resumes else "")
        raise CommandError(f"{DiskFull.of(exc, where)}; free some space and {again}") from None
