"""explainers.executor: one way to run batches of work, here or on Dask, each item's result once."""

from __future__ import annotations

import os

import pytest

from explainers.executor import DaskExecutor, ExecutorError, InProcess, default_executor


def square_plus(shared: int, item: int) -> int:
    return item * item + shared


def worker_settings(shared, item) -> tuple[str | None, int, bool]:
    """(malloc trim threshold in the environment, torch threads, Dask's profiler on) of the worker running it."""
    import dask
    import torch

    return (
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        torch.get_num_threads(),
        bool(dask.config.get("distributed.worker.profile.enabled")),
    )


def test_in_process_runs_every_item_in_order_with_the_shared_object():
    assert list(InProcess().map_unordered(square_plus, 10, [1, 2, 3])) == [11, 14, 19]


def test_one_job_runs_here_and_more_jobs_or_a_scheduler_on_dask():
    assert isinstance(default_executor(1), InProcess)
    assert isinstance(default_executor(2), DaskExecutor)
    assert isinstance(default_executor(1, "tcp://127.0.0.1:8786"), DaskExecutor)


@pytest.mark.slow  # starts a Dask cluster or waits out a connection
def test_a_local_cluster_returns_each_items_result_once_from_one_thread_workers_without_malloc_trimming():
    executor = DaskExecutor(jobs=2)
    assert sorted(executor.map_unordered(square_plus, 1, range(6))) == [1, 2, 5, 10, 17, 26]
    # Dask's default MALLOC_TRIM_THRESHOLD_=65536 made training 1.7x slower, and its statistical profiler
    # (a stack sample every 10 ms) 16 % slower: the workers run with one thread and without either
    assert set(executor.map_unordered(worker_settings, None, range(2))) == {(None, 1, False)}


def trimmed_then_relaxed(shared, item) -> tuple[str | None, bool]:
    """The worker's trim threshold and whether its first task relaxed glibc's thresholds."""
    from explainers import executor

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), executor._relaxed


@pytest.mark.slow  # starts a Dask cluster or waits out a connection
def test_workers_whose_nanny_set_the_malloc_trim_threshold_relax_it_before_their_first_task(monkeypatch):
    import dask

    # a worker started by hand: Dask's default environment, trim threshold included
    monkeypatch.setattr(
        "explainers.executor.worker_environ", lambda: dask.config.get("distributed.nanny.pre-spawn-environ")
    )
    assert list(DaskExecutor(jobs=1).map_unordered(trimmed_then_relaxed, None, [0])) == [("65536", True)]


@pytest.mark.slow  # starts a Dask cluster or waits out a connection
def test_an_unreachable_scheduler_is_a_one_line_error():
    with pytest.raises(ExecutorError, match=r"^--scheduler tcp://127.0.0.1:1: cannot connect"):
        list(DaskExecutor(scheduler="tcp://127.0.0.1:1").map_unordered(square_plus, 0, [1]))
