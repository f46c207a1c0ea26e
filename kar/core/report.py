"""The KAR report: summary (mean, sd, 95 % interval over runs), paired comparisons, the paper-style figures.

Plain NumPy/matplotlib and files, no Django: ``run_kar`` writes the report,
the researcher page (``kar.views``) reads it.

Figures. The paper's Fig. 5 (pixels) plots the *absolute* error gain on a log
axis; here a gain can be 0 or negative (removal helped), which a log axis
cannot show and ``|gain|`` would disguise as damage. Fig. 5 therefore uses a
symmetric log axis: linear within ± one test image's worth of error
(100 / n_test percentage points, 0.1 pp for 1,000 test digits), logarithmic
beyond, so a gain too small to measure sits near 0 and large gains spread out
as on the paper's axis. Fig. 6 (conv) is linear, like the paper's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from explainers import published
from explainers.data import MNIST_CLASSES, MNIST_SHAPE, layout_of
from explainers.files import atomic_write
from explainers.model import CONV_FEATURES

from . import rankers
from .cells import BASELINE, Result
from .errors import KarError
from .store import (
    COMPARISONS,
    FIGURES,
    MANIFEST,
    MANIFEST_KIND,
    REPORT_MD,
    RESULTS,
    SUMMARY,
    VERDICTS,
    ResultsLog,
    read_manifest,
    write_json_atomic,
)

BASELINE_LABEL = "baseline (0 % removed)"


def label(name: str) -> str:
    """A ranker's label for people (:func:`kar.core.rankers.label`), or the baseline's."""
    return BASELINE_LABEL if name == BASELINE else rankers.label(name)


def feature_set_title(feature_set: str, described: dict | None = None) -> str:
    """A feature set named for people with its real count, from the manifest's ``feature_spaces`` entry
    (``features`` and ``shape``): "input pixels (784)" and "conv features (1600)" for MNIST (also for
    manifests that record no sizes), "input pixel values (3072: 3 channels x 32 x 32)" for RGB images."""
    described = described or {}
    if feature_set == "pixels":
        shape = described.get("shape") or MNIST_SHAPE
        features = int(described.get("features", np.prod(shape)))
        if shape[0] == 1:
            return f"input pixels ({features})"
        return f"input pixel values ({features}: {shape[0]} channels x {shape[1]} x {shape[2]})"
    if feature_set == "conv":
        return f"conv features ({int(described.get('features', CONV_FEATURES))})"
    return feature_set


def compares_with_paper(manifest: dict) -> bool:
    """Whether the run's data has MNIST's classes and image shape, so the paper's numbers and claims apply
    (a manifest that records no data is MNIST's)."""
    layout = layout_of(manifest.get("data"))
    return tuple(layout["shape"]) == MNIST_SHAPE and tuple(layout["classes"]) == MNIST_CLASSES


@dataclass(frozen=True)
class SummaryRow:
    feature_set: str
    mode: str
    method: str
    threshold: int
    runs: int
    accuracy_mean: float
    accuracy_sd: float | None  # None with a single run
    error_gain_mean: float
    error_gain_sd: float | None

    @property
    def error_gain_ci(self) -> float | None:
        """Half-width of the 95 % t-interval of the mean gain over runs (None with a single run)."""
        return _ci_half_width(self.error_gain_sd, self.runs)

    @property
    def gain_text(self) -> str:
        """mean ± half-width of the 95 % interval over runs."""
        return _pm(self.error_gain_mean, self.error_gain_ci, 2)

    @property
    def accuracy_text(self) -> str:
        sd = None if self.accuracy_sd is None else 100 * self.accuracy_sd
        return _pm(100 * self.accuracy_mean, sd, 2, signed=False) + " %"


def _pm(mean: float, sd: float | None, digits: int, signed: bool = True) -> str:
    text = (
        f"{mean:+.{digits}f}"
        if signed and round(mean, digits)
        else f"{abs(mean) if not round(mean, digits) else mean:.{digits}f}"
    )
    return text if sd is None else f"{text} ± {sd:.{digits}f}"


def _sd(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


CONFIDENCE = 0.95


def _ci_half_width(sd: float | None, n: int) -> float | None:
    """t quantile x sd / sqrt(n): the 95 % interval of a mean over n runs."""
    if sd is None or n < 2:
        return None
    from scipy.stats import t

    return float(t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / np.sqrt(n))


def varies(differences: np.ndarray) -> bool:
    """Whether paired differences vary across runs, so that a t-test means something.

    Gains are recorded to 4 decimals, so differences that are equal in every run can still
    differ by float rounding (0.1 - 0.3 against 0.2 - 0.4); SciPy's t-test would then divide
    by that rounding. 1e-9 is far below the recorded precision.
    """
    return len(differences) > 1 and float(np.std(differences)) > 1e-9


PAIRED_TEST = "paired t-test over runs (two-sided; scipy.stats.ttest_rel), NormLIME's gain minus the method's"
COMPARISON_FIELDS = (
    "feature_set",
    "mode",
    "threshold",
    "method",
    "runs",
    "mean_difference",
    "ci_low",
    "ci_high",
    "t",
    "p_value",
    "test",
)


@dataclass(frozen=True)
class Comparison:
    """NormLIME against one method at one threshold, paired by run (same seed, same baseline)."""

    feature_set: str
    mode: str
    threshold: int
    method: str
    runs: int
    mean_difference: float  # NormLIME's gain - the method's, percentage points (negative: NormLIME better)
    ci_low: float | None
    ci_high: float | None
    t: float | None
    p_value: float | None
    test: str = PAIRED_TEST


def paired_comparisons(results: list[Result], reference: str = "normlime") -> list[Comparison]:
    """At each (feature set, mode, threshold): ``reference`` against every other method, over the runs both have."""
    from scipy.stats import ttest_rel

    by_key = {(r.feature_set, r.mode, r.method, r.threshold, r.run): r.error_gain for r in results}
    out = []
    groups = sorted({(r.feature_set, r.mode, r.threshold) for r in results if r.method == reference})
    for fs, mode, threshold in groups:
        for method in rankers.names():
            if method == reference:
                continue
            runs = sorted(
                run
                for (f, m, me, th, run) in by_key
                if (f, m, me, th) == (fs, mode, method, threshold) and (fs, mode, reference, threshold, run) in by_key
            )
            if not runs:
                continue
            a = np.array([by_key[(fs, mode, reference, threshold, r)] for r in runs])
            b = np.array([by_key[(fs, mode, method, threshold, r)] for r in runs])
            diff = a - b
            mean = float(diff.mean())
            t_stat = p = low = high = None
            if varies(diff):
                res = ttest_rel(a, b)
                t_stat, p = float(res.statistic), float(res.pvalue)
                half = _ci_half_width(float(np.std(diff, ddof=1)), len(runs))
                low, high = mean - half, mean + half
            out.append(Comparison(fs, mode, threshold, method, len(runs), mean, low, high, t_stat, p))
    return out


def comparisons_csv(rows: list[Comparison]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COMPARISON_FIELDS)
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    for c in rows:
        w.writerow(
            [
                c.feature_set,
                c.mode,
                c.threshold,
                c.method,
                c.runs,
                f"{c.mean_difference:.4f}",
                fmt(c.ci_low, ".4f"),
                fmt(c.ci_high, ".4f"),
                fmt(c.t, ".3f"),
                fmt(c.p_value, ".4g"),
                c.test,
            ]
        )
    return buf.getvalue()


def summarize(results: list[Result]) -> list[SummaryRow]:
    """Mean ± sd over runs per (feature set, mode, method, threshold); baselines come first."""
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.feature_set, r.mode, r.method, r.threshold), []).append(r)
    method_rank = {m: i for i, m in enumerate((BASELINE, *rankers.names()))}
    fs_rank = {"pixels": 0, "conv": 1}
    rows = []
    for (fs, mode, method, threshold), rs in groups.items():
        acc = [r.accuracy for r in rs]
        gain = [r.error_gain for r in rs]
        rows.append(
            SummaryRow(
                fs, mode, method, threshold, len(rs), float(np.mean(acc)), _sd(acc), float(np.mean(gain)), _sd(gain)
            )
        )
    return sorted(
        rows,
        key=lambda s: (
            fs_rank.get(s.feature_set, 9),
            s.feature_set,
            s.mode,
            method_rank.get(s.method, 99),
            s.threshold,
        ),
    )


SUMMARY_FIELDS = (
    "feature_set",
    "mode",
    "method",
    "threshold",
    "runs",
    "accuracy_mean",
    "accuracy_sd",
    "error_gain_mean",
    "error_gain_sd",
    "error_gain_ci95_low",
    "error_gain_ci95_high",
    "error_gain",
)


def summary_csv(rows: list[SummaryRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_FIELDS)
    for s in rows:
        w.writerow(
            [
                s.feature_set,
                s.mode,
                s.method,
                s.threshold,
                s.runs,
                f"{s.accuracy_mean:.6f}",
                "" if s.accuracy_sd is None else f"{s.accuracy_sd:.6f}",
                f"{s.error_gain_mean:.4f}",
                "" if s.error_gain_sd is None else f"{s.error_gain_sd:.4f}",
                "" if s.error_gain_ci is None else f"{s.error_gain_mean - s.error_gain_ci:.4f}",
                "" if s.error_gain_ci is None else f"{s.error_gain_mean + s.error_gain_ci:.4f}",
                s.gain_text,
            ]
        )
    return buf.getvalue()


@dataclass
class GainTable:
    """One feature set's summary as a grid: a row per method, a column per threshold."""

    feature_set: str
    mode: str
    thresholds: list[int]
    rows: list[
        dict
    ]  # {"method", "label", "cells": [SummaryRow | None], "entries": [{"summary", "paper"}]} per threshold
    baseline: SummaryRow | None
    features: str = ""  # the feature set named with its count (feature_set_title)

    @property
    def title(self) -> str:
        return f"{self.mode.upper()} on {self.features or feature_set_title(self.feature_set)}"


def gain_tables(rows: list[SummaryRow], spaces: dict | None = None, paper: bool = True) -> list[GainTable]:
    """One table per (feature set, mode); ``spaces`` is the manifest's ``feature_spaces`` (the features'
    counts), ``paper`` whether the paper's numbers stand beside the gains (MNIST runs)."""
    spaces = spaces or {}
    tables = []
    for fs, mode in dict.fromkeys((s.feature_set, s.mode) for s in rows):
        mine = [s for s in rows if s.feature_set == fs and s.mode == mode]
        thresholds = sorted({s.threshold for s in mine if s.method != BASELINE})
        methods = [m for m in rankers.names() if any(s.method == m for s in mine)]
        lookup = {(s.method, s.threshold): s for s in mine}
        table_rows = []
        for m in methods:
            cells = [lookup.get((m, t)) for t in thresholds]
            paper_gains = [published.KAR.get((fs, m, t)) if mode == "kar" and paper else None for t in thresholds]
            entries = [{"summary": c, "paper": p} for c, p in zip(cells, paper_gains)]
            table_rows.append({"method": m, "label": label(m), "cells": cells, "entries": entries})
        baseline = next((s for s in mine if s.method == BASELINE), None)
        tables.append(GainTable(fs, mode, thresholds, table_rows, baseline, feature_set_title(fs, spaces.get(fs))))
    return tables


def text_tables(rows: list[SummaryRow], spaces: dict | None = None) -> str:
    """The gain tables as plain text (the command prints them); ``spaces`` as for :func:`gain_tables`."""
    out = []
    for t in gain_tables(rows, spaces):
        base = f"retrained baseline accuracy {t.baseline.accuracy_text}" if t.baseline else "no baseline yet"
        out.append(f"{t.title}: error gain in percentage points vs the {base}")
        width = max(12, *(len(c.gain_text) + 2 for r in t.rows for c in r["cells"] if c))
        out.append("method".ljust(12) + "".join(f"{th} %".rjust(width) for th in t.thresholds))
        for r in t.rows:
            out.append(r["label"].ljust(12) + "".join((c.gain_text if c else "-").rjust(width) for c in r["cells"]))
        out.append("")
    return "\n".join(out).rstrip()


def markdown_tables(rows: list[SummaryRow], spaces: dict | None = None) -> str:
    """The gain tables as Markdown (``report.md``; the README quotes it): mean ± 95 % interval half-width."""
    out = []
    for t in gain_tables(rows, spaces):
        runs = max((c.runs for r in t.rows for c in r["cells"] if c), default=0)
        base = (
            f"retrained baseline accuracy {t.baseline.accuracy_text} (mean ± sd)" if t.baseline else "no baseline yet"
        )
        out.append(
            f"**{t.title}**: error gain in percentage points, mean ± 95 % interval half-width over "
            f"{runs} run{'s' if runs != 1 else ''}; {base}."
        )
        out.append("")
        out.append("| method | " + " | ".join(f"{th} %" for th in t.thresholds) + " |")
        out.append("|---|" + "---|" * len(t.thresholds))
        for r in t.rows:
            out.append(f"| {r['label']} | " + " | ".join(c.gain_text if c else "–" for c in r["cells"]) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def plot_gains(
    rows: list[SummaryRow],
    feature_set: str,
    path: str | Path,
    *,
    n_test: int | None = None,
    described: dict | None = None,
) -> Path | None:
    """Fig. 5 (pixels, symmetric log axis) or Fig. 6 (conv, linear): gain against % removed.

    ``described`` is the feature set's manifest entry (its count, for the title)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [s for s in rows if s.feature_set == feature_set and s.method != BASELINE]
    if not mine:
        return None
    mode = mine[0].mode
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for method in rankers.names():
        pts = sorted((s for s in mine if s.method == method), key=lambda s: s.threshold)
        if not pts:
            continue
        x = [s.threshold for s in pts]
        y = [s.error_gain_mean for s in pts]
        err = [s.error_gain_ci or 0.0 for s in pts]
        ax.errorbar(
            x,
            y,
            yerr=err if any(err) else None,
            label=label(method),
            color=rankers.colour(method),
            marker="o",
            markersize=4,
            linewidth=1.6 if method == "normlime" else 1.1,
            capsize=2,
        )
    ax.axhline(0, color="black", linewidth=0.6)
    runs = max(s.runs for s in mine)
    note = f"mean{' ± 95 % interval' if runs > 1 else ''} over {runs} run{'s' if runs > 1 else ''}"
    if feature_set == "pixels":
        linthresh = 100.0 / n_test if n_test else 0.1
        ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
        lowest = min(s.error_gain_mean - (s.error_gain_ci or 0.0) for s in mine)
        if lowest >= 0:  # no negative gain: don't spend a decade of axis on nothing
            ax.set_ylim(bottom=-0.5 * linthresh)
        note += f"; symlog axis, linear within ±{linthresh:g} pp (one test image)"
    ax.set_xlabel("features removed (%)" + (" — least important first" if mode == "kar" else " — most important first"))
    ax.set_ylabel("error gain (percentage points)")
    number = "5" if feature_set == "pixels" else "6"
    ax.set_title(f"Fig. {number}-style {mode.upper()}: {feature_set_title(feature_set, described)}", fontsize=10)
    ax.set_xticks(sorted({s.threshold for s in mine}))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write(path, buffer.getvalue())


@dataclass
class Report:
    out_dir: Path
    manifest: dict
    results: list[Result]
    summary: list[SummaryRow]

    @property
    def spaces(self) -> dict:
        """The manifest's ``feature_spaces``: each feature set's count, shape and sizes."""
        return self.manifest.get("feature_spaces", {})

    @property
    def compares_with_paper(self) -> bool:
        """MNIST's classes and shape: the paper's numbers and claims apply (:func:`compares_with_paper`)."""
        return compares_with_paper(self.manifest)

    @property
    def tables(self) -> list[GainTable]:
        return gain_tables(self.summary, self.spaces, self.compares_with_paper)

    @property
    def expected(self) -> int:
        return int(self.manifest.get("expected_cells", len(self.results)))

    @property
    def complete(self) -> bool:
        return len(self.results) >= self.expected

    @property
    def figures(self) -> list[tuple[str, str]]:
        """(feature set, file name) of the figures that exist."""
        return [(fs, name) for fs, name in FIGURES.items() if (self.out_dir / name).is_file()]

    @property
    def updated(self) -> datetime:
        stamps = [p.stat().st_mtime for p in (self.out_dir / RESULTS, self.out_dir / MANIFEST) if p.exists()]
        return datetime.fromtimestamp(max(stamps, default=0), tz=UTC)

    @property
    def mode(self) -> str:
        return self.manifest.get("parameters", {}).get("mode", "kar")

    @property
    def last_session(self) -> dict:
        sessions = self.manifest.get("sessions") or [{}]
        return sessions[-1]

    @property
    def running(self) -> bool:
        """The last session has not ended (run_kar marks it complete, incomplete or interrupted when it stops)."""
        return not self.complete and self.last_session.get("status") == "running"

    @property
    def judges_claims(self) -> bool:
        """Whether the paper's claims are judged: a KAR run on MNIST (the claims are about MNIST; ROAR runs
        answer other questions)."""
        return self.mode == "kar" and self.compares_with_paper

    @cached_property
    def verdicts(self) -> list:
        """The paper's claims judged on these results (:mod:`kar.core.verdict`); none unless
        :attr:`judges_claims`. The original model's accuracy is the manifest's ``original_model.accuracy``.

        Computed once per report: the writer, the command and the page each read it more than once.
        """
        from .verdict import original_accuracy, resolution, verdicts

        return (
            verdicts(self.results, label, original=original_accuracy(self.manifest), floor=resolution(self.manifest))
            if self.judges_claims
            else []
        )

    @cached_property
    def confounds(self) -> dict:
        """{convention: the claims judged with NormLIME and LIME under that convention's variants}, for the
        conventions whose NormLIME variant the run has (:func:`kar.core.verdict.confound_verdicts`)."""
        from .verdict import confound_verdicts, original_accuracy, resolution

        if not self.judges_claims:
            return {}
        return confound_verdicts(
            self.results, label, original=original_accuracy(self.manifest), floor=resolution(self.manifest)
        )

    @property
    def confound_rows(self) -> list[dict]:
        """One row per claim: the paper-convention outcome and each convention's (the KAR page's table)."""
        from .verdict import confounds_rows

        return confounds_rows(self.verdicts, self.confounds)

    @property
    def changed_claims(self) -> list[str]:
        from .verdict import changed_claims

        return changed_claims(self.verdicts, self.confounds)

    @property
    def confound_references(self) -> list[tuple[str, str, str]]:
        """(convention, its NormLIME variant's label, the convention in words), in the table's column order."""
        return [(c, label(items[0].reference), rankers.CONVENTIONS[c]) for c, items in self.confounds.items() if items]

    @property
    def verdict_rules(self) -> str:
        from .verdict import RULES

        return RULES

    @property
    def label(self) -> str:
        """What the run is for, from ``run_kar --label`` (empty when none was given)."""
        return str(self.manifest.get("label") or "")


def claims_text(report: Report, *, markdown: bool = True) -> str:
    """The verdicts on the paper's claims with their power and rules, then "With the confounds"; Markdown
    (report.md) or the same with plain headings (the commands' output)."""
    from .verdict import RULES, confounds_text, verdicts_text

    if not report.verdicts:
        return ""
    head = "**The paper's claims** (rules in `kar/core/verdict.py`)." if markdown else "The paper's claims:"
    text = f"{head} {RULES}\n\n{verdicts_text(report.verdicts)}\n"
    if report.confounds:
        head = "**With the confounds.**" if markdown else "With the confounds:"
        text += f"\n{head} {confounds_text(report.verdicts, report.confounds, label)}\n"
    return text


def console_text(report: Report) -> str:
    """What the commands print at the end: the tables, then the verdicts on the paper's claims (KAR runs)."""
    text = text_tables(report.summary, report.spaces)
    if report.verdicts:
        text += "\n\n" + claims_text(report, markdown=False)
    return text


def load_report(out_dir: str | Path) -> Report:
    """A run folder's manifest and results (partial ones too). KarError if it is not a KAR run."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    if not manifest or manifest.get("kind") != MANIFEST_KIND:
        raise KarError(f"{out}: not a run_kar output folder (no {MANIFEST} of kind {MANIFEST_KIND})")
    results = ResultsLog(out / RESULTS).read() if (out / RESULTS).exists() else []
    return Report(out, manifest, results, summarize(results))


def write_report(out_dir: str | Path) -> Report:
    """summary.csv and the figures from results.csv (works on a partial run too)."""
    report = load_report(out_dir)
    out = report.out_dir
    atomic_write(out / SUMMARY, summary_csv(report.summary))
    atomic_write(out / COMPARISONS, comparisons_csv(paired_comparisons(report.results)))
    text = markdown_tables(report.summary, report.spaces)
    if report.judges_claims:
        confounds = [v for items in report.confounds.values() for v in items]
        write_json_atomic(out / VERDICTS, [v.as_dict() for v in report.verdicts + confounds])
        text += "\n" + claims_text(report)
    else:
        (out / VERDICTS).unlink(missing_ok=True)
    atomic_write(out / REPORT_MD, text)
    n_test = report.spaces.get("pixels", {}).get("test")
    for fs, name in FIGURES.items():
        if plot_gains(report.summary, fs, out / name, n_test=n_test, described=report.spaces.get(fs)) is None:
            (out / name).unlink(missing_ok=True)
    return report


def list_reports(root: str | Path) -> list[Report]:
    """The KAR run folders directly under ``root``, most recently updated first."""
    root = Path(root)
    if not root.is_dir():
        return []
    reports = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and (child / MANIFEST).is_file():
            try:
                reports.append(load_report(child))
            except KarError:
                continue
    return sorted(reports, key=lambda r: r.updated, reverse=True)


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )
