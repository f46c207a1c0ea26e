"""Running (or resuming) a whole grid into an output folder, in four named steps.

1. :func:`open_run`: check the folder, write the manifest (fingerprint of the
   parameters), read the cells a previous session finished.
2. :func:`rank_features`: a run's global rankings, cached one by one in ``rankings.npz``.
3. :func:`train_cells`: the run's pending cells on an executor; the driver (this
   process) alone appends each finished cell to ``results.csv``, once.
4. :func:`close_run`: canonical order, session status and timings in the manifest.

:func:`run_kar` chains them, steps 2 and 3 run by run.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explainers.compute import DEFAULT_PRECISION, Compute, using
from explainers.executor import Executor, ExecutorError, default_executor

from .cells import Cell, Result, run_cell
from .errors import KarError
from .rankings import cell_importance, compute_rankings
from .spaces import FeatureSpace
from .spec import KarSpec, run_fingerprint
from .store import (
    MANIFEST,
    MANIFEST_KIND,
    RANKINGS,
    RESULTS,
    ResultsLog,
    load_rankings_cache,
    prepare_out_dir,
    save_rankings_cache,
    write_json_atomic,
)

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def host() -> dict:
    """The driver's machine, for the session record: cells of one grid may be run on different CPUs.

    With ``--scheduler`` the cells run on the workers' machines; this names the driver's.
    """
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


@dataclass
class KarOutcome:
    out_dir: Path
    results: list[Result]  # every finished cell of this run, in grid order
    ran: int  # cells computed by this call
    skipped: int  # cells found in results.csv
    expected: int
    seconds: float
    manifest: dict

    @property
    def complete(self) -> bool:
        return len(self.results) == self.expected


class _Eta:
    """Time left, from the mean seconds of finished cells of each feature set (their costs differ ~20x)."""

    def __init__(self, pending: list[Cell], previous: list[Result], jobs: int):
        self.left = {fs: sum(1 for c in pending if c.feature_set == fs) for fs in {c.feature_set for c in pending}}
        self.seconds: dict[str, list[float]] = {}
        for r in previous:
            self.seconds.setdefault(r.feature_set, []).append(r.seconds)
        self.jobs = jobs

    def done(self, cell: Cell, seconds: float) -> None:
        self.left[cell.feature_set] -= 1
        self.seconds.setdefault(cell.feature_set, []).append(seconds)

    def remaining(self) -> float | None:
        total = 0.0
        for fs, n in self.left.items():
            if n and not self.seconds.get(fs):
                return None
            if n:
                total += n * float(np.mean(self.seconds[fs]))
        cells = sum(self.left.values())
        return total / max(1, min(self.jobs, cells))


# --------------------------------------------------------------------------
# What a worker needs to train a cell, and the executors that run cells
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CellTask:
    """Everything a cell needs besides the cell itself; sent once to each worker."""

    spaces: dict[str, FeatureSpace]
    rankings: dict[str, np.ndarray]
    mode: str
    config: object  # explainers.model.TrainConfig
    device: str
    precision: str = DEFAULT_PRECISION  # travels with the task: a Dask worker has its own compute setting

    def run(self, cell: Cell) -> tuple[Cell, float, float]:
        space = self.spaces[cell.feature_set]
        importance = (
            None
            if cell.is_baseline
            else cell_importance(self.rankings, cell.feature_set, cell.method, cell.run, cell.seed, space.dim)
        )
        with using(Compute(precision=self.precision)):
            acc, seconds = run_cell(
                space, importance, cell, mode=self.mode, config=self.config, device=self.device, tiebreak_seed=cell.seed
            )
        return cell, acc, seconds


def run_cell_task(task: CellTask, cell: Cell) -> tuple[Cell, float, float]:
    """One cell wherever the executor runs it (module level: Dask workers import it by name)."""
    return task.run(cell)


def _cell_key(cell: Cell) -> str:
    return f"kar-{cell.feature_set}-{cell.method}-{cell.threshold}-{cell.run}"


# --------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------


@dataclass
class Run:
    """An open run folder: its manifest, this session's entry, and the cells done so far."""

    spec: KarSpec
    out: Path
    manifest: dict
    session: dict
    resumed: bool
    started: float = field(default_factory=time.perf_counter)
    done: dict[tuple, Result] = field(default_factory=dict)
    ran: int = 0

    @property
    def log(self) -> ResultsLog:
        return ResultsLog(self.out / RESULTS)

    def save_manifest(self) -> None:
        write_json_atomic(self.out / MANIFEST, self.manifest)

    def key(self, cell: Cell) -> tuple:
        return self.spec.key(cell)


def open_run(
    spec: KarSpec,
    spaces: dict[str, FeatureSpace],
    out_dir: str | Path,
    *,
    inputs: dict,
    device: str = "cpu",
    jobs: int = 1,
    restart: bool = False,
    manifest_extra: dict | None = None,
) -> Run:
    """Step 1: refuse a folder holding another run, write this run's manifest, read the cells done."""
    missing = [fs for fs in spec.feature_sets if fs not in spaces]
    if missing:
        raise KarError(f"no feature space named {missing[0]!r}")
    out = Path(out_dir)
    parameters = {**spec.parameters(), "inputs": inputs}
    previous = prepare_out_dir(out, parameters, restart=restart)
    started_at = _now()
    manifest = {
        "kind": MANIFEST_KIND,
        "fingerprint": run_fingerprint(parameters),
        "parameters": parameters,
        "feature_spaces": {fs: spaces[fs].describe() for fs in spec.feature_sets},
        "expected_cells": len(spec.cells()),
        "rankings": (previous or {}).get("rankings", {}),
        "sessions": (previous or {}).get("sessions", []),
        "created": (previous or {}).get("created", started_at),
        **{k: previous[k] for k in ("merged",) if previous and k in previous},  # kar.core.merge's provenance
        **(manifest_extra or {}),
    }
    session = {"started": started_at, "device": str(device), "jobs": jobs, "host": host(), "status": "running"}
    manifest["sessions"].append(session)
    run = Run(spec, out, manifest, session, resumed=previous is not None)
    run.save_manifest()
    if run.resumed:
        run.done = {r.key: r for r in run.log.read()}
    else:
        (out / RESULTS).unlink(missing_ok=True)
    return run


def rank_features(
    run: Run,
    spaces: dict[str, FeatureSpace],
    models: dict[str, nn.Module],
    *,
    runs: list[int] | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Step 2: the rankings of ``runs`` (default every run of the grid); cached ones reused, new ones
    saved one by one."""
    from tqdm import tqdm

    cache_path = run.out / RANKINGS
    # What this folder's manifest lists (earlier runs of this session, or a resumed session's); open_run
    # deleted a rankings file no manifest vouches for.
    cache = {k: v for k, v in load_rankings_cache(cache_path).items() if k in run.manifest["rankings"]}
    bars: dict[str, tqdm] = {}

    def progress_factory(key: str):
        if not progress:
            return None

        def update(done: int, total: int) -> None:
            bar = bars.get(key) or bars.setdefault(
                key, tqdm(total=total, desc=f"ranking {key}", unit="img", leave=False)
            )
            bar.update(done - bar.n)

        return update

    def on_ranking(key: str, importance: np.ndarray, source: dict) -> None:
        cache[key] = importance
        run.manifest["rankings"][key] = source
        save_rankings_cache(cache_path, cache)
        run.save_manifest()
        if key in bars:
            bars.pop(key).close()
        logger.info("ranked %s in %.1f s", key, source["seconds"])

    t0 = time.perf_counter()
    try:
        rankings, _ = compute_rankings(
            {fs: spaces[fs] for fs in run.spec.feature_sets},
            models,
            run.spec.methods,
            config=run.spec.ranking,
            seeds={r: run.spec.run_seed(r) for r in (runs or range(1, run.spec.runs + 1))},
            cache=cache,
            on_ranking=on_ranking,
            progress_factory=progress_factory,
        )
    finally:
        for bar in bars.values():
            bar.close()
    run.session["rankings_seconds"] = round(run.session.get("rankings_seconds", 0) + time.perf_counter() - t0, 2)
    return rankings


class _Recorder:
    """Turns finished cells into results.csv rows: gains need the run's baseline, so early cells wait for it."""

    def __init__(self, run: Run, on_row: Callable[[Cell, Result], None]):
        self.run = run
        self.on_row = on_row
        self.baselines = {(r.feature_set, r.run): r.accuracy for r in run.done.values() if r.is_baseline}
        self.held: dict[tuple[str, int], list[tuple[Cell, float, float]]] = {}

    def finished(self, cell: Cell, acc: float, seconds: float) -> None:
        if self.run.key(cell) in self.run.done:
            logger.warning("cell %s finished twice (a worker was lost); recorded once", cell)
            return
        group = (cell.feature_set, cell.run)
        if cell.is_baseline:
            self.baselines[group] = round(acc, 6)
            self._write(cell, acc, seconds)
            for item in self.held.pop(group, []):
                self._write(*item)
        elif group in self.baselines:
            self._write(cell, acc, seconds)
        else:
            self.held.setdefault(group, []).append((cell, acc, seconds))

    def _write(self, cell: Cell, acc: float, seconds: float) -> None:
        acc = round(acc, 6)  # as written to results.csv, so a resumed run's gains match to the digit
        base = self.baselines[(cell.feature_set, cell.run)]
        result = Result(
            cell.feature_set,
            self.run.spec.mode,
            cell.method,
            cell.threshold,
            cell.run,
            cell.seed,
            acc,
            0.0 if cell.is_baseline else (base - acc) * 100.0,
            seconds,
        )
        self.run.log.append(result)
        self.run.done[result.key] = result
        self.run.ran += 1
        self.on_row(cell, result)


def train_cells(
    run: Run,
    spaces: dict[str, FeatureSpace],
    rankings: dict[str, np.ndarray],
    *,
    executor: Executor,
    device: str = "cpu",
    progress: bool = True,
    on_cell: Callable[[Result], None] | None = None,
    runs: list[int] | None = None,
) -> None:
    """Step 3: the pending cells (of ``runs``, default all) on ``executor``; each result is written here,
    by the driver, once."""
    from tqdm import tqdm

    pending = [c for c in run.spec.cells() if run.key(c) not in run.done and (runs is None or c.run in runs)]
    if not pending:
        return
    eta = _Eta(pending, list(run.done.values()), executor.workers)
    bar = tqdm(
        total=len(pending),
        desc=f"{run.spec.mode.upper()} cells"
        + (f", run {'/'.join(map(str, runs))} of {run.spec.runs}" if runs else ""),
        unit="cell",
        disable=not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]",
    )
    bar.set_postfix_str("ETA after the first cells")

    def on_row(cell: Cell, result: Result) -> None:
        eta.done(cell, result.seconds)
        left = eta.remaining()
        bar.set_postfix_str(f"ETA {tqdm.format_interval(left)}" if left is not None else "ETA after the first cells")
        bar.update(1)
        if on_cell is not None:
            on_cell(result)

    task = CellTask(
        {fs: spaces[fs] for fs in run.spec.feature_sets},
        rankings,
        run.spec.mode,
        run.spec.train,
        str(device),
        precision=run.spec.precision,
    )
    recorder = _Recorder(run, on_row)
    t0 = time.perf_counter()
    try:
        for cell, acc, seconds in executor.map_unordered(run_cell_task, task, pending, key=_cell_key):
            recorder.finished(cell, acc, seconds)
    finally:
        bar.close()
        run.session["cells_seconds"] = round(run.session.get("cells_seconds", 0) + time.perf_counter() - t0, 2)


def close_run(run: Run, status: str) -> list[Result]:
    """Step 4: the results in grid order (rewritten so when complete), the session's status and timings."""
    order = run.spec.order()
    results = sorted(run.done.values(), key=lambda r: order.get(r.key, len(order)))
    if status == "complete":
        run.log.rewrite(results)  # canonical grid order, whatever order the workers finished in
    run.session.update(
        status=status, finished=_now(), cells_run=run.ran, seconds=round(time.perf_counter() - run.started, 2)
    )
    manifest = run.manifest
    manifest["cells_done"] = len(run.done)
    manifest["timings"] = timings(manifest["rankings"], run.done.values(), manifest["sessions"])
    run.save_manifest()
    return results


def timings(rankings: dict, results, sessions: list[dict]) -> dict:
    """The manifest's totals: seconds spent ranking, training (summed over cells) and in all sessions."""
    return {
        "rankings_seconds": round(sum(s.get("seconds", 0) for s in rankings.values()), 2),
        "cell_seconds_sum": round(sum(r.seconds for r in results), 2),
        "wall_seconds": round(sum(s.get("seconds", 0) for s in sessions), 2),
    }


def run_kar(
    spec: KarSpec,
    spaces: dict[str, FeatureSpace],
    models: dict[str, nn.Module],
    out_dir: str | Path,
    *,
    inputs: dict,
    device: str | torch.device = "cpu",
    jobs: int = 1,
    scheduler: str | None = None,
    executor: Executor | None = None,
    restart: bool = False,
    progress: bool = True,
    on_cell: Callable[[Result], None] | None = None,
    manifest_extra: dict | None = None,
) -> KarOutcome:
    """Run (or resume) the whole grid of ``spec`` into ``out_dir``.

    ``inputs`` is the provenance that decides the numbers besides ``spec``
    (model checksum, data, source of local weights); it is fingerprinted with
    the spec. ``models`` are the explained models per feature set (rankings).
    ``on_cell(result)`` runs after each row is saved; an exception there stops
    the run (the rows written so far stay).
    """
    executor = executor or default_executor(jobs, scheduler)
    run = open_run(
        spec,
        spaces,
        out_dir,
        inputs=inputs,
        device=str(device),
        jobs=executor.workers,
        restart=restart,
        manifest_extra=manifest_extra,
    )
    skipped = len(run.done)
    status = "interrupted"
    try:
        # Run by run: a run's rankings, then its cells, so that each finished run is whole (rankings
        # and cells) and an interrupted grid resumes at its first unfinished run.
        for r in range(1, spec.runs + 1):
            if all(run.key(c) in run.done for c in spec.cells() if c.run == r):
                continue
            with using(Compute(precision=spec.precision)):  # the rankings' batches, in this process
                rankings = rank_features(run, spaces, models, runs=[r], progress=progress)
            try:
                train_cells(
                    run,
                    spaces,
                    rankings,
                    executor=executor,
                    device=str(device),
                    progress=progress,
                    on_cell=on_cell,
                    runs=[r],
                )
            except ExecutorError as exc:
                raise KarError(str(exc)) from None
        status = "complete" if len(run.done) == len(spec.cells()) else "incomplete"
    except BaseException:
        try:
            close_run(run, status)
        except OSError as exc:  # a full disk fails this write too: the first failure is the one to report
            logger.warning("the session's status could not be saved in %s: %s", run.out / MANIFEST, exc)
        raise
    results = close_run(run, status)
    expected = len(spec.cells())
    return KarOutcome(run.out, results, run.ran, skipped, expected, time.perf_counter() - run.started, run.manifest)
