"""Merging run folders that split one grid by feature set into the folder of the whole grid.

The paper's grid is large enough to be run a feature set at a time (``run_kar --paper
--feature-sets conv``, then ``pixels``), on different days or machines. Cells and rankings
depend only on the parameters, and those differ only in ``feature_sets``; so the union of the
folders is, cell for cell, the run of both feature sets. :func:`merge_runs` writes it: one
``results.csv`` in the grid's order, one manifest whose fingerprint is the whole grid's (so
``run_kar`` with the whole grid's options resumes it, with nothing left to run), the rankings,
every session of every folder, and the report, figures and verdicts of all the cells together.

Anything else is refused with one line: folders whose other parameters, model or data differ,
a feature set held by two folders, a target that is one of the sources or holds another run.
"""

from __future__ import annotations

from pathlib import Path

from explainers.model import TrainConfig

from .errors import KarError
from .rankings import RankingConfig
from .report import Report, load_report, write_report
from .runner import _now, timings
from .spaces import FEATURE_SETS
from .spec import KarSpec, run_fingerprint
from .store import (
    MANIFEST,
    OUTPUT_FILES,
    RANKINGS,
    RESULTS,
    ResultsLog,
    _differences,
    load_rankings_cache,
    read_manifest,
    save_rankings_cache,
    write_json_atomic,
)

SPLIT_BY = "feature_sets"  # the one parameter in which merged folders may differ


def spec_of(parameters: dict) -> KarSpec:
    """The KarSpec whose ``parameters()`` are ``parameters`` (without ``inputs``); KarError if none is."""
    p = {k: v for k, v in parameters.items() if k != "inputs"}
    try:
        spec = KarSpec(
            feature_sets=tuple(p["feature_sets"]),
            methods=tuple(p["methods"]),
            thresholds=tuple(p["thresholds"]),
            runs=p["runs"],
            seed=p["seed"],
            mode=p["mode"],
            train=TrainConfig(**p["train"]),
            ranking=RankingConfig(**p["ranking"]),
            precision=p["precision"],
        )
    except (KeyError, TypeError) as exc:
        raise KarError(f"the parameters were written by another version of run_kar ({exc})") from None
    if spec.parameters() != p:
        diff = _differences(spec.parameters(), p)
        raise KarError(f"the parameters were written by another version of run_kar ({diff[0]})")
    return spec


def merge_runs(sources: list[str | Path], out_dir: str | Path, *, restart: bool = False) -> Report:
    """Write the merged folder of ``sources`` into ``out_dir`` and its report; returns the report."""
    if len(sources) < 2:
        raise KarError("name at least two run folders to merge")
    out = Path(out_dir)
    reports = [load_report(s) for s in sources]
    if any(out.resolve() == r.out_dir.resolve() for r in reports):
        raise KarError(f"{out}: is one of the folders to merge; choose another --out")
    first = reports[0]
    base = {k: v for k, v in first.manifest["parameters"].items() if k != SPLIT_BY}
    seen: dict[str, Path] = {}
    for r in reports:
        diff = _differences(base, {k: v for k, v in r.manifest["parameters"].items() if k != SPLIT_BY})
        if diff:
            raise KarError(
                f"{r.out_dir}: ran with other parameters than {first.out_dir} ({diff[0]}); "
                f"only the feature sets may differ"
            )
        for fs in r.manifest["parameters"][SPLIT_BY]:
            if fs in seen:
                raise KarError(
                    f"feature set {fs!r} is in both {seen[fs]} and {r.out_dir}; each may come from one folder"
                )
            seen[fs] = r.out_dir
    order = [fs for fs in FEATURE_SETS if fs in seen] + [fs for fs in seen if fs not in FEATURE_SETS]
    parameters = {**first.manifest["parameters"], SPLIT_BY: order}
    spec = spec_of(parameters)
    position = spec.order()
    results = sorted((x for r in reports for x in r.results), key=lambda x: position.get(x.key, len(position)))
    stray = [x for x in results if x.key not in position]
    if stray:
        raise KarError(f"a cell outside the grid in {RESULTS}: {stray[0].key}")

    _prepare(out, run_fingerprint(parameters), restart)
    rankings, sources_of = {}, {}
    for r in reports:
        rankings.update(load_rankings_cache(r.out_dir / RANKINGS))
        sources_of.update(r.manifest.get("rankings", {}))
    sessions = [{**s, "folder": str(r.out_dir)} for r in reports for s in r.manifest.get("sessions", [])]
    manifest = {
        **{k: v for k, v in first.manifest.items() if k not in ("label", "command")},
        "fingerprint": run_fingerprint(parameters),
        "parameters": parameters,
        "feature_spaces": {fs: sp for r in reports for fs, sp in r.manifest.get("feature_spaces", {}).items()},
        "expected_cells": len(position),
        "rankings": sources_of,
        "sessions": sessions,
        "created": min(r.manifest.get("created", _now()) for r in reports),
        "merged": {
            "at": _now(),
            "from": [
                {
                    "folder": str(r.out_dir),
                    "feature_sets": r.manifest["parameters"][SPLIT_BY],
                    "fingerprint": r.manifest.get("fingerprint"),
                    "cells_done": len(r.results),
                }
                for r in reports
            ],
        },
        "cells_done": len(results),
        "timings": timings(sources_of, results, sessions),
    }
    ResultsLog(out / RESULTS).rewrite(results)
    save_rankings_cache(out / RANKINGS, rankings)
    write_json_atomic(out / MANIFEST, manifest)  # last: a folder without it is not taken for a run
    return write_report(out)


def _prepare(out: Path, fingerprint_: str, restart: bool) -> None:
    """An empty target, or an earlier merge of the same grid (replaced), or --restart; otherwise refused."""
    if out.exists() and not out.is_dir():
        raise KarError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    held = read_manifest(out)
    if not restart and held is not None and held.get("fingerprint") != fingerprint_:
        raise KarError(f"{out}: holds a KAR run of another grid; pass --restart to replace it or choose another --out")
    if not restart and held is not None and "merged" not in held:
        raise KarError(
            f"{out}: holds a run of this grid made by run_kar, not a merge; pass --restart to replace it "
            "or choose another --out"
        )
    if not restart and held is None and (out / RESULTS).exists():
        raise KarError(
            f"{out}: holds {RESULTS} but no readable {MANIFEST}; pass --restart to replace it or choose another --out"
        )
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
