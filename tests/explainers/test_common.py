"""explainers.methods._common: the helpers the explainers share."""

import numpy as np
import pytest
import torch

from explainers.methods import _common
from explainers.methods._common import SAFE_BATCHED_SOLVE, batched_solve


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def test_a_batch_of_large_systems_is_solved_correctly_with_several_threads(two_threads):
    # the case MKL's threaded batched LU gets wrong (pytorch#142815): here it raised or hung at 150+ rows
    n = 200
    A = (
        torch.eye(n, dtype=torch.float64).repeat(4, 1, 1)
        * torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)[:, None, None]
    )
    x = batched_solve(A, torch.ones(4, n, dtype=torch.float64))
    np.testing.assert_allclose(x[:, 0].numpy(), [1.0, 0.5, 0.25, 0.125])
    assert torch.get_num_threads() == 2  # restored


def test_only_large_batched_cpu_systems_give_up_their_threads(two_threads, monkeypatch):
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(_common.torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    small = torch.eye(SAFE_BATCHED_SOLVE - 1, dtype=torch.float64).repeat(3, 1, 1)
    batched_solve(small, torch.ones(3, SAFE_BATCHED_SOLVE - 1, dtype=torch.float64))
    single = torch.eye(SAFE_BATCHED_SOLVE, dtype=torch.float64)
    batched_solve(single, torch.ones(SAFE_BATCHED_SOLVE, dtype=torch.float64))
    assert calls == []
    large = torch.eye(SAFE_BATCHED_SOLVE, dtype=torch.float64).repeat(3, 1, 1)
    batched_solve(large, torch.ones(3, SAFE_BATCHED_SOLVE, dtype=torch.float64))
    assert calls == [1, 2]


def test_the_threads_come_back_when_the_solve_fails(two_threads):
    singular = torch.zeros(2, SAFE_BATCHED_SOLVE, SAFE_BATCHED_SOLVE, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        batched_solve(singular, torch.ones(2, SAFE_BATCHED_SOLVE, dtype=torch.float64))
    assert torch.get_num_threads() == 2
