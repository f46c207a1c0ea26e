"""kar.core.runner: the grid, results.csv, resumption, refusal of other parameters, executors."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from explainers.executor import DaskExecutor
from explainers.model import TrainConfig
from kar.core.cells import BASELINE, RESULT_FIELDS, Result
from kar.core.errors import KarError
from kar.core.runner import run_kar
from kar.core.spec import KarSpec, run_fingerprint
from kar.core.store import RANKINGS, RESULTS, ResultsLog, prepare_out_dir, read_manifest
from tests.kar.tiny import TINY_RANKING

pytestmark = pytest.mark.slow  # trains networks or starts servers

SMALL = KarSpec(
    feature_sets=("pixels",),
    methods=("random", "smoothgrad", "normlime"),
    thresholds=(25, 75),
    runs=2,
    train=TrainConfig(epochs=3, batch_size=32, shift=0),
    ranking=TINY_RANKING,
)
INPUTS = {"model_sha256": "test", "data": "synthetic 8x8"}


def run_small(space, explained, out, **kwargs):
    return run_kar(SMALL, {"pixels": space}, {"pixels": explained}, out, inputs=INPUTS, progress=False, **kwargs)


def rows_without_seconds(path) -> list[list[str]]:
    with open(path) as f:
        return [row[:-1] for row in csv.reader(f)]


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def uninterrupted(space, explained, tmp_path_factory):
    out = tmp_path_factory.mktemp("kar-full")
    outcome = run_small(space, explained, out)
    return out, outcome


def test_a_run_writes_one_row_per_cell_with_gains_against_its_own_baseline(uninterrupted):
    out, outcome = uninterrupted
    assert outcome.complete and outcome.ran == outcome.expected == 2 + 3 * 2 * 2
    rows = list(csv.DictReader(open(out / RESULTS)))
    assert list(rows[0]) == list(RESULT_FIELDS)
    assert len(rows) == 14
    baselines = {r["run"]: float(r["accuracy"]) for r in rows if r["method"] == BASELINE}
    assert set(baselines) == {"1", "2"}
    for r in rows:
        expected = (baselines[r["run"]] - float(r["accuracy"])) * 100
        assert float(r["error_gain"]) == pytest.approx(expected, abs=1e-3)
        assert int(r["seed"]) == int(r["run"]) - 1  # run r trains with seed + r - 1
    manifest = read_manifest(out)
    assert manifest["fingerprint"] == run_fingerprint({**SMALL.parameters(), "inputs": INPUTS})
    assert manifest["cells_done"] == 14 and manifest["sessions"][-1]["status"] == "complete"
    # each run ranks from its own images: one ranking per method and run
    assert set(np.load(out / RANKINGS).files) == {f"pixels/{m}/{r}" for m in SMALL.methods for r in (1, 2)}


def test_each_session_names_the_machine_it_ran_on(uninterrupted):
    out, _ = uninterrupted
    machine = read_manifest(out)["sessions"][-1]["host"]
    assert machine["cores"] == os.cpu_count() and machine["cpu"]
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_an_interrupted_run_resumes_without_redoing_cells_and_ends_with_the_same_results(
    space, explained, uninterrupted, tmp_path
):
    seen = []

    def stop_after_five(result):
        seen.append(result)
        if len(seen) == 5:
            raise Stop

    with pytest.raises(Stop):
        run_small(space, explained, tmp_path, on_cell=stop_after_five)
    assert len(rows_without_seconds(tmp_path / RESULTS)) == 1 + 5  # saved at once, header + 5
    assert read_manifest(tmp_path)["sessions"][-1]["status"] == "interrupted"
    with np.load(tmp_path / RANKINGS) as f:
        rankings_before = {k: f[k] for k in f.files}

    resumed = run_small(space, explained, tmp_path)
    assert resumed.skipped == 5 and resumed.ran == 14 - 5
    with np.load(tmp_path / RANKINGS) as f:  # reused, not recomputed; the later runs' added
        assert rankings_before and all(np.array_equal(f[k], v) for k, v in rankings_before.items())
        assert set(f.files) == {f"pixels/{m}/{r}" for m in SMALL.methods for r in (1, 2)}
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / RESULTS) == rows_without_seconds(full_out / RESULTS)
    assert [s["status"] for s in read_manifest(tmp_path)["sessions"]] == ["interrupted", "complete"]


def test_a_dask_local_cluster_gives_the_same_results_as_one_process(space, explained, uninterrupted, tmp_path):
    outcome = run_small(space, explained, tmp_path, executor=DaskExecutor(jobs=2))
    assert outcome.complete
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / RESULTS) == rows_without_seconds(full_out / RESULTS)


def test_a_folder_holding_a_run_with_other_parameters_is_refused_unless_restarted(
    space, explained, uninterrupted, tmp_path
):
    run_small(space, explained, tmp_path)
    other = KarSpec(**{**SMALL.__dict__, "train": TrainConfig(epochs=2, batch_size=32, shift=0)})
    with pytest.raises(KarError, match=r"other parameters \(train\.epochs 3 -> 2\).*--restart"):
        run_kar(other, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False)
    again = run_kar(
        other, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False, restart=True
    )
    assert again.ran == 14 and again.skipped == 0


def test_results_without_a_manifest_are_not_silently_overwritten(tmp_path):
    (tmp_path / RESULTS).write_text(",".join(RESULT_FIELDS) + "\n")
    with pytest.raises(KarError, match="no readable manifest.json"):
        prepare_out_dir(tmp_path, {"a": 1})


def test_a_torn_last_line_is_dropped_and_cut_off_the_file(tmp_path):
    log = ResultsLog(tmp_path / RESULTS)
    row = Result("pixels", "kar", "random", 10, 1, 0, 0.9, 1.5, 2.0)
    log.append(row)
    with open(log.path, "a") as f:
        f.write("pixels,kar,lime,50,1,0,0.9")  # a crash in the middle of a write
    assert log.read() == [row]
    assert log.path.read_text().endswith("2.00\n")


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.fixture
def cluster(tmp_path):
    """A real scheduler and two worker processes on loopback (no nanny: a killed worker stays dead)."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        start(
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        )
    ]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    workers = [
        start(
            "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}"
        )
        for i in range(2)
    ]
    processes += workers
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    try:
        yield address, workers
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
            p.wait()


def test_a_cell_whose_worker_dies_runs_again_elsewhere_and_is_recorded_once(
    space, explained, uninterrupted, cluster, tmp_path
):
    address, workers = cluster
    killed = []

    def kill_one_worker(result):
        if not killed:  # after the first row both workers are busy with a cell: one dies in the middle of it
            workers[0].kill()
            killed.append(workers[0].pid)

    outcome = run_small(space, explained, tmp_path, scheduler=address, on_cell=kill_one_worker)
    assert killed and workers[0].wait(timeout=10) is not None
    assert outcome.complete and outcome.ran == 14
    rows = rows_without_seconds(tmp_path / RESULTS)[1:]
    keys = [tuple(r[:5]) for r in rows]
    assert len(keys) == len(set(keys)) == 14  # every cell exactly once
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / RESULTS) == rows_without_seconds(full_out / RESULTS)


def test_a_cell_task_trains_under_its_own_precision_wherever_it_runs(monkeypatch):
    from types import SimpleNamespace

    from explainers import compute
    from kar.core import runner

    seen = []
    monkeypatch.setattr(runner, "run_cell", lambda *a, **k: (seen.append(compute.current().precision), (0.5, 1.0))[1])
    monkeypatch.setattr(runner, "cell_importance", lambda *a: None)
    task = runner.CellTask({"pixels": SimpleNamespace(dim=784)}, {}, "kar", None, "cpu", precision="bf16")
    cell = next(
        c
        for c in runner.KarSpec(feature_sets=("pixels",), methods=("random",), thresholds=(50,)).cells()
        if not c.is_baseline
    )
    assert task.run(cell)[1:] == (0.5, 1.0)
    assert seen == ["bf16"] and compute.current().precision == "fp32"  # the worker's own setting is untouched


def test_a_folder_grows_by_more_runs_and_adds_only_their_cells(space, explained, uninterrupted, tmp_path):
    one = dataclasses.replace(SMALL, runs=1)
    first = run_kar(one, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False)
    assert first.complete and first.ran == 1 + 3 * 2
    grown = run_small(space, explained, tmp_path)
    assert grown.skipped == 7 and grown.ran == 7 and grown.complete  # run 2's baseline and cells only
    full_out, _ = uninterrupted
    assert rows_without_seconds(tmp_path / RESULTS) == rows_without_seconds(full_out / RESULTS)
    assert read_manifest(tmp_path)["parameters"]["runs"] == 2
    with pytest.raises(KarError, match="holds a KAR run of 2 runs; --runs may grow"):
        run_kar(one, {"pixels": space}, {"pixels": explained}, tmp_path, inputs=INPUTS, progress=False)
