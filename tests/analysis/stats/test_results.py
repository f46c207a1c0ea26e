"""analysis.stats.results: results are frozen and their dicts are strict JSON.

No Django needed: analysis.stats imports only NumPy/SciPy/statsmodels.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.stats.analyze import analyze
from analysis.stats.paper import attention_filter


def test_attention_filter_results_cannot_be_mutated():
    res = attention_filter(np.ones((2, 5), dtype=bool))
    with pytest.raises(ValueError):
        res.kept[0] = False


def test_analyze_survives_degenerate_data_and_its_dict_is_strict_json():
    # everyone votes 1 for each method in a 4-question survey: all shares 0.25
    choices = np.tile([0, 1, 2, 3], (5, 1))
    res = analyze(np.ones((5, 5)), choices, n_boot=50)
    assert math.isnan(res.anova.F) and res.anova.note
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    assert back["anova"]["F"] is None and back["anova"]["p_text"] == "n/a"
    assert back["tally"]["totals"] == [5, 5, 5, 5]
