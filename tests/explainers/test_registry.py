"""The method registry: each method described once, and every consumer deriving from it."""
import subprocess
import sys

import pytest

from explainers.methods import registry
from explainers.methods.registry import Method, Source


def test_the_paper_preference_is_its_votes_over_their_total_rounded():
    # 939, 438, 132, 151 of 1,660 votes: 0.5657, 0.2639, 0.0795, 0.0910
    assert registry.paper_preference() == {"normlime": 0.57, "lime": 0.26, "smoothgrad": 0.08, "vargrad": 0.09}


def test_the_paper_methods_are_its_four_in_the_order_of_its_tables():
    assert registry.PAPER_METHODS == ("normlime", "lime", "smoothgrad", "vargrad")


def test_the_overview_figure_is_the_papers_fig_1_then_the_other_methods():
    assert registry.figure_order() == ("vargrad", "smoothgrad", "lime", "normlime", "shap", "ig", "random")


def test_names_labels_and_colours_are_unique():
    assert len(set(registry.NAMES)) == len(set(registry.LABELS.values())) == len(set(registry.COLOURS.values()))
    assert len(registry.NAMES) == len(registry.METHODS)


def test_an_entry_without_a_module_and_function_is_refused():
    with pytest.raises(ValueError, match="function must be 'module:function'"):
        Method("x", "X", "#000", signed=False, source=Source.PER_IMAGE, function="attribute")


def test_an_unknown_name_is_a_one_line_error():
    with pytest.raises(KeyError, match="unknown method 'nope' \\(known: normlime, lime"):
        registry.get("nope")


def test_importing_the_registry_imports_neither_torch_nor_django():
    code = "import sys, explainers.methods.registry; sys.exit(any(m in sys.modules for m in ('torch', 'django')))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.django_db
def test_every_consumer_derives_its_methods_from_the_registry():
    from analysis import reports, simulate, stats
    from kar.core import rankings as kar_rankings
    from kar.core import report as kar_report
    from explainers import methods
    from explainers.models import MethodName as Choices
    from survey.models import paper_methods

    assert tuple(Choices.values) == registry.NAMES
    assert dict(Choices.choices) == dict(registry.LABELS)
    assert registry.PAPER_METHODS == tuple(paper_methods()) == stats.tally([[0]]).methods == registry.names(paper=True)
    assert methods.ALL_METHODS == registry.NAMES and methods.SURVEY_METHODS == registry.PAPER_METHODS
    assert kar_rankings.METHODS == registry.KAR_METHODS and set(kar_rankings.RANKERS) == set(registry.KAR_METHODS)
    assert {m: kar_report.LABELS[m] for m in registry.NAMES} == dict(registry.LABELS)
    assert dict(kar_report.COLORS) == dict(reports.COLORS) == dict(registry.COLOURS)
    assert dict(reports.LABELS) == dict(registry.LABELS)
    assert reports.PAPER["votes"] == {"normlime": 939, "lime": 438, "smoothgrad": 132, "vargrad": 151}
    assert simulate.PAPER_PREFERENCE == registry.paper_preference()
    # what simulate_responses and power_analysis use unless told otherwise, for the paper's four
    assert simulate.default_preference(registry.PAPER_METHODS) == pytest.approx(registry.paper_preference())
    assert simulate.parse_preference(simulate.PAPER_PREFERENCE_TEXT) == pytest.approx(registry.paper_preference())


def test_figure_labels_follow_a_newly_registered_method(monkeypatch):
    from explainers import render

    extra = Method("dummy", "Dummy method", "#000000", signed=False, source=Source.RANDOM)
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, extra))
    assert registry.label("dummy") == "Dummy method" and registry.figure_order()[-1] == "dummy"
    assert render.label is registry.label
