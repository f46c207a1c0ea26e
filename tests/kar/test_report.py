"""kar.core.report: mean, sd and 95 % interval over runs; NormLIME paired against each method, by run."""

from __future__ import annotations

import csv
import io
import json
import warnings

import numpy as np
import pytest
from scipy.stats import t as student_t

from kar.core.cells import Result
from kar.core.report import PAIRED_TEST, comparisons_csv, paired_comparisons, summarize

GAINS = {"normlime": [0.1, 0.3, 0.2], "random": [1.0, 1.5, 0.8]}


def results() -> list[Result]:
    rows = [Result("pixels", "kar", "baseline", 0, run, run - 1, 0.9, 0.0, 1.0) for run in (1, 2, 3)]
    for method, gains in GAINS.items():
        rows += [
            Result("pixels", "kar", method, 50, run, run - 1, 0.9 - g / 100, g, 1.0) for run, g in enumerate(gains, 1)
        ]
    return rows


def test_the_summary_gives_mean_sd_and_the_95_percent_t_interval_over_runs():
    row = next(s for s in summarize(results()) if s.method == "random")
    # by hand: mean 1.1, sd sqrt(((-.1)^2 + .4^2 + (-.3)^2) / 2) = sqrt(0.13), half-width t(0.975, 2) * sd / sqrt(3)
    assert row.error_gain_mean == pytest.approx(1.1)
    assert row.error_gain_sd == pytest.approx(np.sqrt(0.13))
    assert row.error_gain_ci == pytest.approx(4.302653 * np.sqrt(0.13) / np.sqrt(3), rel=1e-5)
    assert row.gain_text == f"+1.10 ± {row.error_gain_ci:.2f}"


def test_normlime_is_paired_with_each_method_by_run_and_the_test_is_named():
    [c] = paired_comparisons(results())
    diff = np.subtract(GAINS["normlime"], GAINS["random"])  # -0.9, -1.2, -0.6
    sd = diff.std(ddof=1)
    t_by_hand = diff.mean() / (sd / np.sqrt(3))
    assert (c.feature_set, c.threshold, c.method, c.runs) == ("pixels", 50, "random", 3)
    assert c.mean_difference == pytest.approx(-0.9)
    assert c.t == pytest.approx(t_by_hand)
    assert c.p_value == pytest.approx(2 * student_t.sf(abs(t_by_hand), 2))
    assert c.ci_high < 0  # NormLIME's gain is lower in every run
    table = list(csv.DictReader(io.StringIO(comparisons_csv([c]))))
    assert table[0]["test"] == PAIRED_TEST and "paired t-test" in PAIRED_TEST


def test_differences_equal_in_every_run_up_to_float_rounding_get_no_t_test():
    # NormLIME loses exactly 0.2 pp less than VarGrad in every run; as floats the differences
    # differ in the 17th digit, which SciPy's t-test would divide by (a warning and a huge t)
    rows = [Result("pixels", "kar", "baseline", 0, run, run - 1, 0.9, 0.0, 1.0) for run in (1, 2, 3)]
    for method, gains in {"normlime": [-0.1, -0.1, 0.0], "vargrad": [0.1, 0.1, 0.2]}.items():
        rows += [Result("pixels", "kar", method, 30, run, run - 1, 0.9, g, 1.0) for run, g in enumerate(gains, 1)]
    assert np.std(np.subtract([-0.1, -0.1, 0.0], [0.1, 0.1, 0.2])) > 0  # the rounding is there
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [c] = paired_comparisons(rows)
    assert c.mean_difference == pytest.approx(-0.2) and c.t is None and c.p_value is None


def test_a_single_run_has_no_interval_and_no_test():
    one = [r for r in results() if r.run == 1]
    assert next(s for s in summarize(one) if s.method == "random").error_gain_ci is None
    [c] = paired_comparisons(one)
    assert c.runs == 1 and c.t is None and c.p_value is None


def test_the_markdown_tables_give_mean_and_interval_per_method_and_threshold():
    from kar.core.report import markdown_tables

    text = markdown_tables(summarize(results()))
    half = 4.302653 * np.sqrt(0.13) / np.sqrt(3)  # Random's interval, as above
    assert (
        "**KAR on input pixels (784)**: error gain in percentage points, mean ± 95 % interval half-width over 3 runs"
        in text
    )
    assert "| method | 50 % |\n|---|---|\n" in text
    assert f"| Random | +1.10 ± {half:.2f} |" in text
    assert "retrained baseline accuracy 90.00 ± 0.00 % (mean ± sd)" in text


def test_feature_sets_are_named_with_their_real_counts_and_mnists_when_the_manifest_records_none():
    from kar.core.report import feature_set_title

    assert feature_set_title("pixels") == "input pixels (784)"
    assert feature_set_title("conv") == "conv features (1600)"
    assert feature_set_title("pixels", {"features": 784, "shape": [1, 28, 28]}) == "input pixels (784)"
    rgb = {"features": 3072, "shape": [3, 32, 32]}
    assert feature_set_title("pixels", rgb) == "input pixel values (3072: 3 channels x 32 x 32)"
    assert feature_set_title("conv", {"features": 2304, "shape": [64, 6, 6]}) == "conv features (2304)"


def write_run(out, data: dict | None) -> None:
    """A finished run folder of results(): its manifest records ``data`` (None: a manifest from before data sets)."""
    from kar.core.cells import RESULT_FIELDS
    from kar.core.store import MANIFEST_KIND

    out.mkdir()
    manifest = {
        "kind": MANIFEST_KIND,
        "parameters": {"mode": "kar"},
        "expected_cells": 9,
        "feature_spaces": {"pixels": {"features": 3072, "shape": [3, 32, 32], "test": 10000}},
        **({"data": data} if data is not None else {}),
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(RESULT_FIELDS)
        w.writerows(r.csv_row() for r in results())


def test_a_run_on_another_data_set_is_reported_with_its_counts_and_without_the_papers_mnist_numbers(tmp_path):
    from kar.core.report import write_report

    write_run(tmp_path / "shapes", {"classes": ["circle", "square", "triangle"], "shape": [3, 32, 32]})
    report = write_report(tmp_path / "shapes")
    assert not report.compares_with_paper and report.verdicts == []
    assert report.tables[0].title == "KAR on input pixel values (3072: 3 channels x 32 x 32)"
    assert all(e["paper"] is None for row in report.tables[0].rows for e in row["entries"])
    text = (tmp_path / "shapes" / "report.md").read_text()
    assert "**KAR on input pixel values (3072: 3 channels x 32 x 32)**" in text and "paper's claims" not in text
    assert not (tmp_path / "shapes" / "verdicts.json").exists()

    write_run(tmp_path / "mnist", None)  # MNIST: the paper's numbers stand beside the gains, its claims are judged
    report = write_report(tmp_path / "mnist")
    assert report.compares_with_paper and len(report.verdicts) == 3
    normlime = next(row for row in report.tables[0].rows if row["method"] == "normlime")
    assert normlime["entries"][0]["paper"][0] == 0.0
    assert (tmp_path / "mnist" / "verdicts.json").exists()


def test_kars_variants_are_tabled_plotted_and_compared_like_any_method_under_their_own_labels(tmp_path):
    from kar.core.report import gain_tables, markdown_tables, plot_gains

    rows = results() + [
        Result("pixels", "kar", "variance", 50, run, run - 1, 0.9, g, 1.0) for run, g in enumerate([2.0, 2.5, 2.2], 1)
    ]
    table = gain_tables(summarize(rows))[0]
    assert [r["label"] for r in table.rows] == ["NormLIME", "Random", "feature variance"]
    assert "| feature variance | +2.23 ± " in markdown_tables(summarize(rows))
    assert [c.method for c in paired_comparisons(rows)] == ["random", "variance"]
    assert plot_gains(summarize(rows), "pixels", tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_the_report_judges_the_claims_again_under_each_convention_the_run_has(tmp_path):
    from kar.core.report import console_text, write_report

    out = tmp_path / "variants"
    write_run(out, None)
    with open(out / "results.csv", "a", newline="") as f:  # NormLIME with standardised weights: 0 at 50 %
        csv.writer(f).writerows(
            Result("pixels", "kar", "normlime_std", 50, run, run - 1, 0.9, g, 1.0).csv_row()
            for run, g in enumerate([0.05, -0.05, 0.0], 1)
        )
    report = write_report(out)
    saved = json.loads((out / "verdicts.json").read_text())
    assert [(v["claim"], v["convention"]) for v in saved] == [
        ("pixels-50-zero", None),
        ("conv-30-best", None),
        ("conv-80-90-lowest", None),
        ("pixels-50-zero", "std"),
        ("conv-30-best", "std"),
        ("conv-80-90-lowest", "std"),
    ]
    # the paper's NormLIME: 0.1, 0.3, 0.2 (mean 0.2, sd 0.1), 90 % interval 0.2 +- 2.920 * 0.1 / sqrt(3) = 0.03 to 0.37
    assert saved[0]["outcome"] == "inconclusive" and "+0.03 to +0.37" in saved[0]["evidence"][0]
    assert saved[0]["power"]["runs"] == 3 and saved[0]["power"]["sd"] == pytest.approx([0.1])
    assert saved[3]["outcome"] == "supported" and saved[3]["reference"] == "normlime_std"
    text = (out / "report.md").read_text()
    assert "**With the confounds.**" in text and "| pixels-50-zero | inconclusive | supported |" in text
    assert "Claims that change: pixels-50-zero." in text
    assert "With the confounds:" in console_text(report) and "The paper's claims:" in console_text(report)
