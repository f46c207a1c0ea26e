"""kar.core.spec: bad grids are refused in one line; the cells' order."""

from __future__ import annotations

import pytest

from kar.core.errors import KarError
from kar.core.spec import KarSpec


def test_bad_specs_are_refused_in_one_line():
    for kwargs, message in (
        ({"methods": ("normlime", "gradcam")}, "unknown method 'gradcam'"),
        ({"thresholds": (0,)}, "outside 1-99"),
        ({"thresholds": (100,)}, "outside 1-99"),
        ({"mode": "keep"}, "unknown mode"),
        ({"runs": 0}, "at least 1"),
    ):
        with pytest.raises(KarError, match=message) as info:
            KarSpec(**kwargs)
        assert "\n" not in str(info.value)


def test_cells_list_baselines_first_then_run_by_run():
    cells = KarSpec(feature_sets=("pixels", "conv"), methods=("lime",), thresholds=(10, 90), runs=2, seed=7).cells()
    assert [(c.feature_set, c.method, c.run, c.seed) for c in cells[:4]] == [
        ("pixels", "baseline", 1, 7),
        ("conv", "baseline", 1, 7),
        ("pixels", "baseline", 2, 8),
        ("conv", "baseline", 2, 8),
    ]
    assert [(c.feature_set, c.threshold, c.run) for c in cells[4:]] == [
        ("pixels", 10, 1),
        ("pixels", 90, 1),
        ("conv", 10, 1),
        ("conv", 90, 1),
        ("pixels", 10, 2),
        ("pixels", 90, 2),
        ("conv", 10, 2),
        ("conv", 90, 2),
    ]


def test_each_cell_has_a_key_like_its_results_and_a_position_in_the_grid():
    spec = KarSpec(feature_sets=("pixels", "conv"), methods=("lime",), thresholds=(10, 90), runs=2, mode="roar")
    order = spec.order()
    cells = spec.cells()
    assert len(order) == len(cells) == 4 + 2 * 2 * 2
    assert [order[spec.key(c)] for c in cells] == list(range(len(cells)))
    assert spec.key(cells[-1]) == ("conv", "roar", "lime", 90, 2)  # Result.key's order of fields
