"""explainers.multiple_testing: Holm's correction against arithmetic done by hand, NaN included."""

import math
import subprocess
import sys

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from explainers.multiple_testing import holm


def test_holm_multiplies_the_sorted_p_values_by_m_minus_their_rank_and_keeps_their_order():
    # p = 0.01, 0.04, 0.03 (m = 3). Sorted: 0.01, 0.03, 0.04
    #   0.01 * 3 = 0.03
    #   0.03 * 2 = 0.06
    #   0.04 * 1 = 0.04 -> raised to the running max 0.06
    # back in input order: 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_a_nan_counts_in_the_family_as_p_1_and_stays_nan():
    # p = 0.02, NaN, 0.01, 0.04: m = 4, the NaN sorts last as p = 1
    #   0.01 * 4 = 0.04
    #   0.02 * 3 = 0.06
    #   0.04 * 2 = 0.08
    #   NaN (1 * 1 = 1) -> reported as NaN, not 1
    adjusted = holm([0.02, float("nan"), 0.01, 0.04])
    assert adjusted[[0, 2, 3]].tolist() == pytest.approx([0.06, 0.04, 0.08])
    assert math.isnan(adjusted[1])
    # without the NaN the family is 3: 0.01 * 3 = 0.03, 0.02 * 2 = 0.04, 0.04 * 1 -> 0.04
    assert holm([0.02, 0.01, 0.04]).tolist() == pytest.approx([0.04, 0.03, 0.04])


def test_adjusted_p_values_are_capped_at_1_and_ties_share_the_larger_adjustment():
    # 0.6 * 2 = 1.2 -> 1; 0.7 * 1 = 0.7 -> running max 1.2 -> 1
    assert holm([0.7, 0.6]).tolist() == [1.0, 1.0]
    # 0.01 * 2 = 0.02; 0.01 * 1 = 0.01 -> running max 0.02
    assert holm([0.01, 0.01]).tolist() == pytest.approx([0.02, 0.02])
    # p = 0 stays 0 whatever the multiplier; p = 1 stays 1
    assert holm([0.0, 1.0, 0.25]).tolist() == pytest.approx([0.0, 1.0, 0.5])


def test_an_empty_or_all_nan_family_and_a_2d_input():
    assert holm([]).shape == (0,)
    assert np.isnan(holm([float("nan"), float("nan")])).all()
    with pytest.raises(ValueError, match="1-D"):
        holm([[0.01, 0.02]])


def test_it_is_statsmodels_holm_to_the_last_bit_with_nan_read_as_1():
    rng = np.random.default_rng(0)
    for _ in range(20):  # multipletests takes ~50 ms a call
        p = rng.random(int(rng.integers(1, 40))) ** 3
        p[rng.random(p.size) < 0.1] = 0.0
        p[rng.random(p.size) < 0.1] = np.nan
        nan = np.isnan(p)
        expected = multipletests(np.where(nan, 1.0, p), method="holm")[1]
        expected[nan] = np.nan
        assert holm(p).tobytes() == expected.tobytes()


def test_the_analysis_and_the_kar_verdicts_use_this_one_function():
    from analysis import stats
    from kar.core import verdict

    assert stats.holm is holm and verdict.holm is holm


def test_it_imports_neither_django_nor_torch():
    code = (
        "import sys, explainers.multiple_testing; "
        "sys.exit(1 if any(m.split('.')[0] in ('django', 'torch') for m in sys.modules) else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
