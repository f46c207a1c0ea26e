"""The study report: text in the paper's terms, report.json, votes.csv, tukey.csv and two figures.

Plain Python, NumPy and matplotlib over a :class:`analysis.study.StudyReport` (no ORM), so the
command (``analyze_study``) and the researcher page (``analysis.study_views``) print and draw
exactly the same thing. Figures are drawn on a bare ``matplotlib.figure.Figure`` with the Agg
canvas: no pyplot state, safe inside a web request.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from pathlib import Path
from typing import IO, Any

import numpy as np

from explainers import published
from explainers.files import atomic_write
from explainers.methods import registry
from survey.models import in_words

from . import stats
from .study import ALWAYS_COUNTED, StudyReport, kinds_text

REPORT_JSON = "report.json"
VOTES_CSV = "votes.csv"
TUKEY_CSV = "tukey.csv"
#: figure name (URL and file stem) -> file name
FIGURES = {"shares": "shares.png", "tukey": "tukey.png"}
REPORT_KIND = "normlime-study-analysis"


def label(method: str) -> str:
    return registry.label(method)


def compares_with_paper(report: StudyReport) -> bool:
    """The paper's numbers are shown only beside a study of the paper's four methods (in any order)."""
    return sorted(report.methods) == sorted(published.STUDY["votes"])


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, fmt)


def _yes(flag: bool | None) -> str:
    return "n/a" if flag is None else ("yes" if flag else "no")


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------


def vote_rows(report: StudyReport) -> list[dict[str, Any]]:
    """One row per method: votes, share, bootstrap CI and the paper's numbers."""
    a = report.analysis
    total = int(a.tally.totals.sum())
    paper = compares_with_paper(report)
    out = []
    for j, m in enumerate(a.methods):
        paper_votes = published.STUDY["votes"].get(m) if paper else None
        out.append(
            {
                "method": m,
                "label": label(m),
                "votes": int(a.tally.totals[j]),
                "share": float(a.tally.totals[j] / total) if total else math.nan,
                "ci_lower": a.bootstrap.lower[j],
                "ci_upper": a.bootstrap.upper[j],
                "mean_participant_share": float(a.tally.shares[:, j].mean()),
                "paper_votes": paper_votes,
                "paper_share": paper_votes / published.STUDY_VOTES if paper_votes is not None else None,
            }
        )
    return out


INCLUDE_HINT = "use --include to count them"


def kinds_lines(report: StudyReport, hint: str = INCLUDE_HINT) -> list[str]:
    """Which kinds of participant were counted, how many of each were kept, and how many were left out.

    ``hint`` tells how to count those left out (the command's flag; the page's checkboxes).
    """
    kinds = report.data.kinds
    if kinds == (ALWAYS_COUNTED,):
        lines = [f"Counted: {ALWAYS_COUNTED} participants only."]
    else:
        lines = [f"Counted: {', '.join(kinds)} participants (kept: {kinds_text(report.kept_by_kind())})."]
    if report.data.left_out:
        noun = "participant" if sum(report.data.left_out.values()) == 1 else "participants"
        lines.append(f"Left out: {kinds_text(report.data.left_out)} {noun} ({hint}).")
    return lines


def text_report(report: StudyReport) -> str:
    """The report as the command prints it (and the page shows in ``<pre>``)."""
    a, d = report.analysis, report.data
    lines: list[str] = []
    add = lines.append
    title = f'Study "{d.name}" ({d.slug}): analysis of the human evaluation'
    add(title)
    add("=" * len(title))
    add(
        f"Surveys: {report.n_started} started, {report.n_finished} finished. Kept {report.n_kept} that passed at least "
        f"{report.min_checks} of {d.n_checks} attention checks; excluded {len(report.exclusions)}"
        + (":" if report.exclusions else ".")
    )
    for reason, n in report.exclusion_summary():
        add(f"  {n:5d}  {reason}")
    for line in kinds_lines(report):
        add(f"  {line}")
    add("")
    n_q = int(a.tally.answered.max()) if a.n_kept else 0
    per = f"{a.n_kept} surveys x {n_q} questions = " if (a.tally.answered == n_q).all() else ""
    paper = compares_with_paper(report)
    k = len(a.methods)
    add(f"Votes of the kept participants ({per}{report.n_votes:,} votes)")
    add(
        f"  {'method':<12} {'votes':>6} {'share':>7}   {'95% CI (cluster bootstrap)':<27}"
        + (f"  paper ({published.STUDY['surveys']} surveys)" if paper else "")
    )
    for r in vote_rows(report):
        ci = f"[{_pct(r['ci_lower'])}, {_pct(r['ci_upper'])}]"
        line = f"  {r['label']:<12} {r['votes']:>6} {_pct(r['share']):>7}   {ci:<27}"
        add(f"{line}  {r['paper_votes']} ({_pct(r['paper_share'])})" if paper else line.rstrip())
    seed = "unseeded" if report.seed is None else f"seed {report.seed}"
    add(f"  The CI resamples whole participants, not single votes ({a.bootstrap.n_boot:,} resamples, {seed}).")
    add("")

    an, lm, tk = a.anova, a.anova_lm, a.tukey
    add("The paper's analysis: one-way ANOVA on each participant's shares, each method a group")
    add(
        f"  F({an.df_between}, {an.df_within}) = {_num(an.F, '.1f')}, p = {an.p_text}"
        + (
            f"    (paper: F({published.STUDY['df'][0]}, {published.STUDY['df'][1]}) = {published.STUDY['F']:.0f}, p = {published.STUDY['p_text']})"
            if paper
            else ""
        )
    )
    add(
        f"  η² = {_num(an.eta_squared)}, ω² = {_num(an.omega_squared)}; statsmodels anova_lm gives the same F and p: "
        f"{_yes(lm.agrees_with_f_oneway)}"
    )
    if an.note:
        add(f"  Note: {an.note}")
    add(
        f"  Tukey HSD, family-wise α = {tk.alpha:g} (meandiff = mean share of group2 − group1; p below "
        f"{tk.p_floor:g} is not resolved by {tk.backend}):"
    )
    add(f"    {'group1':<12} {'group2':<12} {'meandiff':>9} {'p-adj':>10} {'lower':>8} {'upper':>8}  reject")
    for r in tk.rows:
        add(
            f"    {r.group1:<12} {r.group2:<12} {_num(r.meandiff, '+.4f'):>9} {r.p_adj_text:>10} "
            f"{_num(r.lower, '+.4f'):>8} {_num(r.upper, '+.4f'):>8}  {_yes(r.reject)}"
        )
    if tk.note:
        add(f"  Note: {tk.note}")
    if paper:
        add(f"  (paper: {published.STUDY['tukey']})")
    add(
        f"  Caveat: a participant's {in_words(k)} shares sum to 1, so the {in_words(k)} 'groups' are not independent samples,"
    )
    add("  as this ANOVA and Tukey HSD assume. The tests below respect the design.")
    add("")

    fr, wx, ht, cs = a.friedman, a.wilcoxon, a.hotelling, a.chi_square
    add("Analyses that respect the design (each participant is a block)")
    add(
        f"  Friedman test: χ²({fr.df}) = {_num(fr.chi2, '.1f')}, p = {fr.p_text}; Kendall's W = {_num(fr.kendalls_w)}"
        " (0 = participants disagree, 1 = all rank the methods alike)"
    )
    add(
        "    mean rank within participant: "
        + ", ".join(f"{label(m)} {_num(r, '.2f')}" for m, r in zip(fr.methods, fr.mean_ranks))
    )
    if fr.note:
        add(f"    Note: {fr.note}")
    add(f"  Paired Wilcoxon signed-rank tests, Holm-corrected (α = {wx.alpha:g}):")
    add(f"    {'pair':<24} {'median diff':>11} {'W':>8} {'p':>10} {'p (Holm)':>10} {'r (rank-biserial)':>18}  test")
    for r in wx.rows:
        add(
            f"    {r.method1 + ' − ' + r.method2:<24} {_num(r.median_diff, '+.3f'):>11} {_num(r.statistic, '.1f'):>8} "
            f"{r.p_text:>10} {r.p_holm_text:>10} {_num(r.rank_biserial, '+.3f'):>18}  {r.test}"
        )
        if r.note:
            add(f"      Note: {r.note}")
    add(f"  Hotelling's T² on {ht.df1} within-participant contrasts ({', '.join(ht.contrast_labels)}):")
    add(f"    T² = {_num(ht.T2, '.1f')}, F({ht.df1}, {ht.df2}) = {_num(ht.F, '.1f')}, p = {ht.p_text}")
    if ht.note:
        add(f"    Note: {ht.note}")
    add(f"  Chi-square on the vote totals against an even split: χ²({cs.df}) = {_num(cs.chi2, '.1f')}, p = {cs.p_text}")
    add(
        f"    Flag: this {cs.note} (it counts {report.n_votes:,} votes from {a.n_kept} people as {report.n_votes:,} independent draws)."
    )
    add(
        f"  Effect sizes: η² = {_num(an.eta_squared)}, ω² = {_num(an.omega_squared)} (ANOVA); "
        f"Kendall's W = {_num(fr.kendalls_w)} (Friedman); rank-biserial r per pair above."
    )
    add("  95% confidence intervals of each method's share: the cluster bootstrap in the votes table above.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def _software() -> dict[str, str]:
    import matplotlib
    import scipy
    import statsmodels

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "matplotlib": matplotlib.__version__,
    }


def report_dict(report: StudyReport) -> dict[str, Any]:
    """Everything in the report as JSON-ready builtins (``json.dumps(..., allow_nan=False)`` works)."""
    d = report.data
    return {
        "kind": REPORT_KIND,
        "version": 1,
        "generated_at": report.generated_at.isoformat(),
        "study": {
            "slug": d.slug,
            "name": d.name,
            "n_real_questions": d.n_real,
            "n_attention_checks": d.n_checks,
            "pass_threshold": d.pass_threshold,
        },
        "parameters": {
            "min_checks": report.min_checks,
            "include": list(report.data.kinds),
            "n_boot": report.n_boot,
            "seed": report.seed,
            "alpha": report.alpha,
        },
        "participants": {
            "started": report.n_started,
            "finished": report.n_finished,
            "kept": report.n_kept,
            "excluded": len(report.exclusions),
            "kinds_included": list(report.data.kinds),
            "kept_by_kind": report.kept_by_kind(),
            "left_out": dict(report.data.left_out),
            "exclusion_summary": {reason: n for reason, n in report.exclusion_summary()},
            "kept_ids": [d.participants[i].public_id for i in report.kept],
            "exclusions": [{"participant": e.participant, "reason": e.reason} for e in report.exclusions],
        },
        "methods": list(report.methods),
        "votes": vote_rows(report),
        "paper": published.STUDY if compares_with_paper(report) else None,
        "analysis": report.analysis.to_dict(),
        "software": _software(),
    }


def write_report_json(report: StudyReport, out: IO[str]) -> None:
    json.dump(report_dict(report), out, indent=1, allow_nan=False)
    out.write("\n")


VOTES_COLUMNS = (
    "participant",
    "platform",
    "participant_kind",
    "status",
    "checks_correct",
    "checks_answered",
    "kept",
    "excluded_reason",
    "real_answered",
)


def votes_rows(report: StudyReport) -> list[dict[str, Any]]:
    """Every participant: checks, whether kept (and if not, why), votes and shares per method."""
    d = report.data
    t = stats.tally(d.choices, d.methods) if len(d.participants) else None
    kept = set(report.kept)
    reasons = {e.participant: e.reason for e in report.exclusions}
    answered_checks = ~np.isnan(d.correct)
    rows = []
    for i, p in enumerate(d.participants):
        row: dict[str, Any] = {
            "participant": p.public_id,
            "platform": p.platform,
            "participant_kind": p.kind,
            "status": p.status,
            "checks_correct": int((d.correct[i] == 1.0).sum()),
            "checks_answered": int(answered_checks[i].sum()),
            "kept": i in kept,
            "excluded_reason": reasons.get(p.public_id, ""),
            "real_answered": int(t.answered[i]),
        }
        for j, m in enumerate(d.methods):
            row[f"votes_{m}"] = int(t.counts[i, j])
        for j, m in enumerate(d.methods):
            row[f"share_{m}"] = float(t.shares[i, j])
        rows.append(row)
    return rows


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_votes_csv(report: StudyReport, out: IO[str]) -> int:
    columns = (
        list(VOTES_COLUMNS) + [f"votes_{m}" for m in report.data.methods] + [f"share_{m}" for m in report.data.methods]
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    rows = votes_rows(report)
    for row in rows:
        writer.writerow([_csv_text(row[c]) for c in columns])
    return len(rows)


TUKEY_COLUMNS = ("group1", "group2", "meandiff", "lower", "upper", "p_adj", "p_adj_is_bound", "p_adj_text", "reject")


def write_tukey_csv(report: StudyReport, out: IO[str]) -> int:
    """The Tukey table (meandiff = mean share of group2 - group1, statsmodels' sign)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TUKEY_COLUMNS)
    for r in report.analysis.tukey.rows:
        writer.writerow([_csv_text(getattr(r, c)) if getattr(r, c) is not None else "" for c in TUKEY_COLUMNS])
    return len(report.analysis.tukey.rows)


def write_report_files(report: StudyReport, folder: Path) -> list[Path]:
    """report.json, votes.csv, tukey.csv, shares.png and tukey.png in ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    texts = {REPORT_JSON: write_report_json, VOTES_CSV: write_votes_csv, TUKEY_CSV: write_tukey_csv}
    written = []
    for name, writer in texts.items():
        buffer = io.StringIO()
        writer(report, buffer)
        atomic_write(folder / name, buffer.getvalue().encode("utf-8"))
        written.append(folder / name)
    for name, filename in FIGURES.items():
        atomic_write(folder / filename, figure_png(report, name))
        written.append(folder / filename)
    return written


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def shares_figure(report: StudyReport):
    """Each method's share of all votes with its 95% cluster-bootstrap CI, participants as dots."""
    a = report.analysis
    methods = a.methods
    rows = vote_rows(report)
    x = np.arange(len(methods))
    fig = _new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    share = np.array([r["share"] for r in rows])
    lower = np.array([r["ci_lower"] for r in rows])
    upper = np.array([r["ci_upper"] for r in rows])
    ax.bar(x, share, width=0.6, color=[registry.colour(m) for m in methods], alpha=0.85, zorder=2)
    ax.errorbar(
        x,
        share,
        yerr=[share - lower, upper - share],
        fmt="none",
        ecolor="black",
        capsize=6,
        lw=1.5,
        zorder=4,
        label=f"95% CI (cluster bootstrap, {a.bootstrap.n_boot:,} resamples)",
    )
    rng = np.random.default_rng(0)  # jitter only; fixed so the same data draw the same picture
    for j in range(len(methods)):
        ys = a.tally.shares[:, j]
        ax.scatter(x[j] + rng.uniform(-0.22, 0.22, ys.size), ys, s=7, color="#333333", alpha=0.25, lw=0, zorder=3)
    if compares_with_paper(report):
        paper = [published.STUDY["votes"][m] for m in methods]
        ax.scatter(
            x + 0.2,
            np.array(paper) / published.STUDY_VOTES,
            marker="D",
            s=36,
            color="white",
            edgecolor="black",
            zorder=5,
            label=f"paper ({published.STUDY['surveys']} surveys)",
        )
    ax.axhline(1 / len(methods), color="#777777", ls="--", lw=1, zorder=1, label=f"no preference (1/{len(methods)})")
    for j, r in enumerate(rows):
        ax.annotate(
            f"{r['votes']}", (x[j], upper[j]), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8
        )
    ax.set_xticks(x, [label(m) for m in methods])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of votes (dots: each participant)")
    ax.set_title(f"{report.data.name}: {a.n_kept} participants kept, {report.n_votes:,} votes", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(axis="y", alpha=0.3, zorder=0)
    return fig


def tukey_figure(report: StudyReport):
    """Tukey HSD simultaneous 95% intervals of each difference in mean share (first − second)."""
    tk = report.analysis.tukey
    fig = _new_figure(7.2, 3.6)
    ax = fig.add_subplot()
    # Shown as first - second (statsmodels' meandiff is second - first) so that "NormLIME - LIME" > 0
    # reads as "NormLIME preferred".
    rows = list(tk.rows)
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        diff, lo, hi = -r.meandiff, -r.upper, -r.lower
        color = "#1a56db" if r.reject else "#888888"
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2.2, solid_capstyle="butt")
        ax.plot([diff], [yi], "o", color=color, ms=6)
    ax.axvline(0, color="#444444", lw=1, ls="--")
    ax.set_yticks(y, [f"{label(r.group1)} − {label(r.group2)}" for r in rows])
    ax.set_xlabel(f"difference in mean share (blue: differs at α = {tk.alpha:g})")
    ax.set_title(f"Tukey HSD, {100 * (1 - tk.alpha):g}% simultaneous intervals", fontsize=10)
    if tk.note:
        ax.text(0.5, 0.5, tk.note, transform=ax.transAxes, ha="center", va="center", fontsize=8, wrap=True)
    ax.grid(axis="x", alpha=0.3)
    return fig


def figure_png(report: StudyReport, name: str) -> bytes:
    """A figure by name (``shares`` or ``tukey``) as PNG bytes."""
    makers = {"shares": shares_figure, "tukey": tukey_figure}
    if name not in makers:
        raise KeyError(f"unknown figure {name!r} (use {', '.join(makers)})")
    return _png(makers[name](report))
