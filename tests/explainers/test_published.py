"""explainers.published: the paper's numbers, stated once."""

from explainers import published
from explainers.methods import registry


def test_the_study_has_the_papers_83_surveys_and_1660_votes_from_the_registry():
    assert published.STUDY["surveys"] == 83
    assert published.STUDY["votes"] == {name: registry.get(name).paper_votes for name in registry.names(paper=True)}
    assert published.STUDY_VOTES == 939 + 438 + 132 + 151 == 83 * 20
    assert published.STUDY["df"] == (3, 328)  # k - 1 and k (n - 1) for k = 4 methods, n = 83 surveys


def test_every_kar_claim_names_a_feature_set_a_kar_method_and_a_threshold():
    for feature_set, method, threshold in published.KAR:
        assert feature_set in ("pixels", "conv") and method in registry.names(kar=True) and 0 < threshold < 100
