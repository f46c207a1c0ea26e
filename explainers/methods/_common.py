"""Small helpers shared by the explainer modules (no Django)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from .. import compute
from ..compute import BACKWARD_BATCH, FORWARD_BATCH  # noqa: F401 (the methods' batch-size defaults)

Progress = Callable[[int], None] | None


class PerImageMethod(Protocol):
    """The contract of a registry entry's ``PER_IMAGE`` function: what generation and KAR call.

    ``function(model, X, targets, **options, **inputs, batch_size=, seed=, instance_ids=, progress=)``

    - ``model`` maps (m, d) float32 rows to (m, classes) scores; ``X`` holds n inputs of d
      values (an array or a tensor, never modified); ``targets`` a class per input (default:
      the model's prediction).
    - ``options`` are the registry's keyword values; ``inputs`` the data-derived ones it names.
    - ``batch_size`` is the rows per forward or backward pass: it never changes the result.
    - Input i draws from the random stream keyed by (``seed``, ``instance_ids[i]``), so a
      result does not depend on batches or on how a run is split; a method that draws
      nothing (Integrated Gradients) accepts both and ignores them.
    - ``progress(k)`` is called as k more inputs are done.
    - Returns an (n, d) array of attributions, or an object whose attributes (the registry's
      ``output``) are such arrays, one per method it serves.

    :func:`prepare` is the prologue every such function shares.
    """

    def __call__(
        self,
        model: nn.Module,
        X,
        targets=None,
        *,
        batch_size: int,
        seed: int = 0,
        instance_ids=None,
        progress: Progress = None,
        **options: Any,
    ) -> Any: ...


@dataclass(frozen=True)
class Instances:
    """The inputs of one call as every method reads them (see :func:`prepare`)."""

    x: torch.Tensor  # (n, d) float32, on the inputs' device (a tensor) or the model's (an array)
    targets: torch.Tensor  # (n,) int64: the explained class of each input
    ids: list[int]  # each input's key of its random stream

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def d(self) -> int:
        return self.x.shape[1]


def prepare(model: nn.Module, X, targets, *, batch_size: int, instance_ids=None, **positive) -> Instances:
    """The prologue every method shares: ``positive`` values checked, flat float32 rows, targets, stream ids."""
    check_positive(batch_size=batch_size, **positive)
    x = flat(as_tensor(X, model))
    return Instances(x, resolve_targets(model, x, targets, batch_size), instance_ids_of(instance_ids, len(x)))


def as_tensor(x, model: nn.Module) -> torch.Tensor:
    """A float32 copy-free view of ``x`` on its own device (a tensor) or the model's (an array).

    The caller's tensor is never modified: the explainers only read from it.
    """
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float32)
    params = model.parameters() if isinstance(model, nn.Module) else iter(())
    device = next((p.device for p in params), torch.device("cpu"))
    return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device)


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1)


def instance_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator for instance ``index`` of a call seeded with ``seed``.

    Each instance draws from its own stream, so results do not depend on how
    instances are grouped into batches (batched and unbatched calls agree).
    """
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


@torch.no_grad()
def predict_targets(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's own predicted class of each row (the default target)."""
    return torch.cat([compute.forward(model, x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def resolve_targets(model: nn.Module, x: torch.Tensor, targets, batch_size: int) -> torch.Tensor:
    if targets is None:
        return predict_targets(model, x, batch_size)
    t = torch.as_tensor(np.asarray(targets) if not isinstance(targets, torch.Tensor) else targets)
    t = t.to(device=x.device, dtype=torch.int64).reshape(-1)
    if t.numel() == 1 and len(x) != 1:
        t = t.expand(len(x))
    if len(t) != len(x):
        raise ValueError(f"targets has {len(t)} entries for {len(x)} inputs")
    return t


def instance_ids_of(ids, n: int) -> list[int]:
    """Keys of each instance's random stream: ``ids`` if given (e.g. dataset indices), else 0..n-1.

    Keying by a stable id makes a result independent of how a long run is split
    into calls (chunks, resumption) as well as of the batch size.
    """
    if ids is None:
        return list(range(n))
    ids = [int(i) for i in np.asarray(ids).reshape(-1)]
    if len(ids) != n:
        raise ValueError(f"instance_ids has {len(ids)} entries for {n} inputs")
    return ids


def check_positive(**values) -> None:
    for name, value in values.items():
        if value is None or value <= 0:
            raise ValueError(f"{name} must be positive (got {value!r})")


def target_gradient(model: nn.Module, points: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """d f(x)[target] / dx for each row; rows are independent, so one backward of the sum serves all."""
    with torch.enable_grad():
        points = points.detach().requires_grad_(True)
        out = compute.forward(model, points).gather(1, rows[:, None]).sum()
        (grad,) = torch.autograd.grad(out, points)
    return grad.detach()


# torch's CPU LAPACK (MKL) factors a batch of matrices of about 150 rows or more wrongly when it
# uses several threads: torch.linalg.solve raises "Pivots given to lu_solve must all be greater or
# equal to 1", or never returns (pytorch/pytorch#142815; seen with torch 2.13 on a 2-core AMD EPYC
# with AVX-512). Small matrices and one thread are fine, so those batches are solved on one thread.
# Measured: 100 rows pass with 2 threads, 150 hang, 151 and 200 fail.
SAFE_BATCHED_SOLVE = 128


def batched_solve(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.solve(A, B)``, on one CPU thread for batches of matrices too large for MKL's threads."""
    risky = A.device.type == "cpu" and A.dim() > 2 and A.shape[-1] >= SAFE_BATCHED_SOLVE and torch.get_num_threads() > 1
    if not risky:
        return torch.linalg.solve(A, B)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.solve(A, B)
    finally:
        torch.set_num_threads(threads)
