"""analysis.stats.validation: the default methods of every test (the paper's four, in their index order)."""

from __future__ import annotations

from analysis.stats.paper import tally
from explainers.methods import registry


def test_methods_are_in_the_documented_order():
    assert registry.names(paper=True) == ("normlime", "lime", "smoothgrad", "vargrad")
    assert tally([[0]]).methods == registry.names(paper=True)  # the default of every test
