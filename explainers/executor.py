"""Where batches of work run: in this process, or on Dask distributed (a LocalCluster or a scheduler's cluster).

One code path for every distributed job of the platform: ``generate_explanations``
sends its LIME batches here and ``run_kar`` its cells. A job is a module-level
function ``fn(shared, item)`` (workers import it by name), one ``shared`` object
(model, data, settings) sent once to every worker, and the items; results come
back as they finish, each item's once.

- :class:`InProcess`: the items one after another here (one job, or a GPU).
- :class:`DaskExecutor`: a LocalCluster of ``jobs`` worker processes with one
  thread each, or the cluster of ``scheduler`` (``tcp://HOST:8786``). When a worker
  dies in the middle of an item, the scheduler runs the item again on another
  worker and its future completes once, so the caller records it once.

Each Dask task runs with one torch thread: a worker process is one job, and the
thread count must not depend on the machine a worker lands on (it changes float
rounding).

The LocalCluster's workers run without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``): it makes glibc hand memory back to the
system after every large temporary, and training a KAR cell with it took 1.7x as
long (12.1 s against 7.0 s for 2 pixel epochs, 40 % of the CPU in the kernel).
Workers started by hand (``dask worker``, whose nanny sets it) undo it themselves: the
first task on such a worker raises glibc's mmap and trim thresholds with ``mallopt``
(:func:`relax_malloc`). The LocalCluster's workers also run without Dask's statistical
profiler, which samples the running task's stack every 10 ms: with it a KAR cell took 16 %
longer than in a plain process pool (4.0 s against 3.45 s a cell), without it the same
(``benchmarks/kar_executors.py``).
"""

from __future__ import annotations

import ctypes
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

S = TypeVar("S")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class ExecutorError(RuntimeError):
    """The executor cannot run (e.g. no scheduler at the address): a one-line message."""


class Executor(Protocol):
    workers: int

    def map_unordered(
        self, fn: Callable[[S, I], R], shared: S, items: Iterable[I], *, key: Callable[[I], str] | None = None
    ) -> Iterator[R]: ...


class InProcess:
    """The items one after another in this process."""

    workers = 1

    def map_unordered(self, fn, shared, items, *, key=None):
        for item in items:
            yield fn(shared, item)


TRIM = "MALLOC_TRIM_THRESHOLD_"


def worker_environ() -> dict:
    """Dask's environment for new worker processes without its malloc trim threshold (see the module doc)."""
    import dask

    return {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items() if k != TRIM}


_relaxed = False


def relax_malloc() -> bool:
    """Where a nanny set MALLOC_TRIM_THRESHOLD_, give glibc large mmap/trim thresholds again; True if done.

    Setting the variable turns off glibc's dynamic mmap threshold, so every tensor above 128 KiB is
    mapped and unmapped; 32 MiB (glibc's largest dynamic value) and twice that for trimming restore
    most of the speed (a pixel epoch, second call, loaded machine: 3.1 s, against 5.4 s under the
    variable and 2.7 s without it).
    """
    global _relaxed
    if _relaxed or TRIM not in os.environ:
        return _relaxed
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: the variable means nothing there
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    _relaxed = bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 64 << 20))
    return _relaxed


def _one_thread(fn, shared, item):
    """Run ``fn`` on a Dask worker with one torch thread (module level: workers import it by name)."""
    import torch

    relax_malloc()
    torch.set_num_threads(1)
    return fn(shared, item)


class DaskExecutor:
    """Items on Dask distributed: a LocalCluster of ``jobs`` one-thread processes, or ``scheduler``'s cluster."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None):
        self.jobs = jobs
        self.scheduler = scheduler
        self.workers = jobs

    def _client(self):
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout="20s")
            except OSError as exc:
                raise ExecutorError(f"--scheduler {self.scheduler}: cannot connect ({exc})") from None
            self.workers = max(1, sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()))
            return client, None
        import dask

        with dask.config.set(
            {"distributed.nanny.pre-spawn-environ": worker_environ(), "distributed.worker.profile.enabled": False}
        ):
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster

    def map_unordered(self, fn, shared, items, *, key=None):
        from distributed import as_completed

        client, cluster = self._client()
        try:
            remote = client.scatter(shared, broadcast=True)
            token = uuid.uuid4().hex[:8]  # two jobs on one cluster never share a key
            name = getattr(fn, "__name__", "task")
            futures = [
                client.submit(
                    _one_thread, fn, remote, item, pure=False, key=f"{name}-{token}-{key(item) if key else i}"
                )
                for i, item in enumerate(items)
            ]
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def default_executor(jobs: int, scheduler: str | None = None) -> Executor:
    """In this process for one job; otherwise Dask (a LocalCluster of ``jobs`` processes, or ``scheduler``)."""
    return DaskExecutor(jobs, scheduler) if scheduler or jobs > 1 else InProcess()
