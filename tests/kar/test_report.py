"""kar.core.report: mean, sd and 95 % interval over runs; NormLIME paired against each method, by run."""

from __future__ import annotations

import csv
import io
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
