"""analysis.stats.formatting: p-values formatted without claiming more precision than was computed."""

from __future__ import annotations

from analysis.stats.formatting import ANALYTIC_P_FLOOR, format_p


def test_format_p_reports_zero_and_underflow_as_below_the_floor():
    assert format_p(0.0) == "< 1e-16"
    assert format_p(1e-17) == "< 1e-16"
    assert format_p(0.0005, floor=1e-3) == "< 0.001"
    assert format_p(0.0, floor=ANALYTIC_P_FLOOR) == "< 2.23e-308"


def test_format_p_keeps_tiny_but_representable_p_values_in_scientific_notation():
    assert format_p(5.22e-100, floor=ANALYTIC_P_FLOOR) == "5.22e-100"
    assert format_p(3.4e-7) == "3.40e-07"
    assert format_p(1e-16) == "1.00e-16"  # exactly at the floor is still a number


def test_format_p_gives_three_significant_digits_for_ordinary_p_values():
    assert format_p(0.0123) == "0.0123"
    assert format_p(0.05) == "0.0500"
    assert format_p(0.625) == "0.625"
    assert format_p(1.0) == "1.00"
    assert format_p(float("nan")) == "n/a"
