"""The output folder of a run: manifest, the durable results log, the rankings cache.

Finished cells are appended to ``results.csv`` at once (fsync) by the
driver only, whole lines or nothing (a full disk leaves the file as it was); a rerun with the same parameters (their fingerprint is in
``manifest.json``) skips them, and a rerun with more runs adds their cells. Rankings are cached in ``rankings.npz``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

import numpy as np

from explainers.files import DiskFull, atomic_savez, atomic_write, atomic_write_json, is_disk_full, space_needed

from .cells import RESULT_FIELDS, Result
from .errors import KarError
from .spec import GROWS, run_fingerprint

logger = logging.getLogger(__name__)

RESULTS = "results.csv"
SUMMARY = "summary.csv"
COMPARISONS = "comparisons.csv"  # paired comparisons of NormLIME against each method (kar.core.report)
VERDICTS = "verdicts.json"  # a verdict on each of the paper's claims (kar.core.verdict), KAR mode only
REPORT_MD = "report.md"  # the tables and verdicts as Markdown (what the README quotes)
MANIFEST = "manifest.json"
RANKINGS = "rankings.npz"
FIGURES = {"pixels": "fig5_pixels.png", "conv": "fig6_conv.png"}
OUTPUT_FILES = (RESULTS, SUMMARY, COMPARISONS, VERDICTS, REPORT_MD, MANIFEST, RANKINGS, *FIGURES.values())
MANIFEST_KIND = "normlime-kar"


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}")
    return out


def read_manifest(out_dir: str | Path) -> dict | None:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, obj) -> None:
    atomic_write_json(path, obj, default=str)


def prepare_out_dir(out_dir: str | Path, parameters: dict, *, restart: bool = False) -> dict | None:
    """Make ``out_dir`` ready for a run with ``parameters``; returns the manifest of a run to resume.

    Refuses (KarError) a folder that holds a run with other parameters, or
    results without a manifest, unless ``restart`` (which deletes the run's files only).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise KarError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if restart:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        return None
    manifest = read_manifest(out)
    if manifest is None:
        if (out / RESULTS).exists():
            raise KarError(
                f"{out}: holds {RESULTS} but no readable {MANIFEST}; pass --restart to replace it or choose another --out"
            )
        (out / RANKINGS).unlink(missing_ok=True)  # rankings without a manifest cannot be trusted
        return None
    if manifest.get("fingerprint") != run_fingerprint(parameters):
        diff = _differences(manifest.get("parameters", {}), parameters)
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise KarError(
            f"{out}: holds a KAR run with other parameters ({shown or 'unreadable fingerprint'}); "
            "pass --restart to replace it or choose another --out"
        )
    held = manifest.get("parameters", {}).get(GROWS, 0)
    if parameters.get(GROWS, 0) < held:
        raise KarError(
            f"{out}: holds a KAR run of {held} runs; --runs may grow ({held} or more) but not shrink; "
            "pass --restart to replace it or choose another --out"
        )
    return manifest


class ResultsLog:
    """results.csv, appended one durable line per finished cell."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> list[Result]:
        """The rows on disk; a torn last line (a crash mid-write) is dropped and cut off the file."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        if not lines or lines[0].strip() != ",".join(RESULT_FIELDS):
            raise KarError(f"{self.path}: not a KAR results file (header {lines[0].strip() if lines else 'missing'!r})")
        rows, good = [], len(lines[0].encode())
        for line in lines[1:]:
            try:
                if not line.endswith("\n"):
                    raise ValueError("torn line")
                values = next(csv.reader([line]))
                rows.append(Result.from_csv(dict(zip(RESULT_FIELDS, values, strict=True))))
                good += len(line.encode())
            except (ValueError, KeyError, StopIteration):
                logger.warning("%s: dropping an unreadable line %r", self.path, line[:80])
                break
        if good < len(text.encode()):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return rows

    def append(self, result: Result) -> None:
        """Add ``result``'s line (and the header to a new file), on disk before this returns. A failed
        write (a full disk: :class:`explainers.files.DiskFull`) leaves the file exactly as it was, so a
        resumed run reads whole rows only."""
        existed = self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            if size == 0:
                writer.writerow(RESULT_FIELDS)
            writer.writerow(result.csv_row())
            data = buf.getvalue().encode("utf-8")
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except BaseException as exc:
                os.ftruncate(fd, size)  # the part of the line that went in, if any, goes again
                if not existed:
                    self.path.unlink(missing_ok=True)
                if is_disk_full(exc):
                    raise DiskFull(exc.errno, self.path, space_needed(self.path.parent, len(data), size)) from exc
                raise
        finally:
            os.close(fd)

    def rewrite(self, results: list[Result]) -> None:
        """Replace the file atomically with ``results`` in this order (used once a run is complete)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(RESULT_FIELDS)
        for r in results:
            writer.writerow(r.csv_row())
        atomic_write(self.path, buf.getvalue())


def load_rankings_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError):
        logger.warning("%s is unreadable; recomputing the rankings", path)
        return {}


def save_rankings_cache(path: Path, rankings: dict[str, np.ndarray]) -> None:
    atomic_savez(path, **rankings)
