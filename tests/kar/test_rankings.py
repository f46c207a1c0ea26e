"""kar.core.rankings: every method ranks every feature; the informed ones find the label pixels."""
from __future__ import annotations

import numpy as np
import pytest

from explainers.methods import normlime

from tests.kar.tiny import INFORMATIVE, TINY_RANKING
from kar.core.rankings import LocalWeights, METHODS, compute_rankings

def test_every_method_ranks_every_feature_and_the_informed_ones_find_the_label_pixels(space, explained):
    rankings, sources = compute_rankings({"pixels": space}, {"pixels": explained}, METHODS,
                                             config=TINY_RANKING, seed=0)
    assert set(rankings) == {f"pixels/{m}" for m in METHODS}
    for key, scores in rankings.items():
        assert scores.shape == (64,) and np.isfinite(scores).all() and (scores >= 0).all(), key
        assert sources[key]["seconds"] >= 0
    for method in ("normlime", "lime", "smoothgrad", "vargrad", "shap"):
        top = np.argsort(-rankings[f"pixels/{method}"])[:10]
        assert len(set(top) & set(INFORMATIVE)) >= 8, method
    # NormLIME and LIME share one set of local explanations
    assert sources["pixels/normlime"]["explanations"] == sources["pixels/lime"]["explanations"] == 20


def test_given_local_weights_are_used_for_normlime_and_lime_and_cached_rankings_are_not_recomputed(space, explained):
    W = np.zeros((3, 64))
    W[:, 7] = [1.0, -2.0, 0.5]
    W[0, 3] = 0.1
    given = LocalWeights(W, {"name": "set-a"})
    cached = {"pixels/random": np.arange(64.0)}
    rankings, sources = compute_rankings(
        {"pixels": space}, {"pixels": explained}, ["normlime", "lime", "random"], config=TINY_RANKING, seed=0,
        local_weights={"pixels": given}, cache=cached,
    )
    np.testing.assert_allclose(rankings["pixels/normlime"], np.abs(normlime(W)))
    assert np.argmax(rankings["pixels/normlime"]) == 7 and np.argmax(rankings["pixels/lime"]) == 7
    assert sources["pixels/normlime"]["local_weights"] == {"name": "set-a"}
    np.testing.assert_array_equal(rankings["pixels/random"], np.arange(64.0))
    assert "pixels/random" not in sources
