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
    assert registry.names(paper=True) == ("normlime", "lime", "smoothgrad", "vargrad")


def test_names_lists_every_method_or_only_the_paper_or_kar_ones_in_registry_order():
    assert registry.names() == ("normlime", "lime", "smoothgrad", "vargrad", "shap", "ig", "random")
    assert registry.names(paper=False) == ("shap", "ig", "random")
    assert registry.names(kar=True) == registry.names()  # every method of the platform ranks in KAR today
    assert registry.names(paper=True, kar=True) == registry.names(paper=True)


def test_a_new_method_does_not_rank_in_kar_unless_it_opts_in(monkeypatch):
    new = Method("new", "New", "#000", signed=False, source=Source.PER_IMAGE, function="m:f")
    opted = Method("opted", "Opted", "#111", signed=False, source=Source.PER_IMAGE, function="m:f", kar=True)
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, new, opted))
    assert not new.kar and "new" not in registry.names(kar=True) and registry.names(kar=True)[-1] == "opted"
    assert registry.names(kar=False) == ("new",)


def test_resolve_imports_a_methods_function_by_its_module_and_name():
    from explainers.methods import noise_tunnel, normlime

    assert registry.resolve(registry.get("normlime")) is normlime
    assert registry.resolve("noisy_gradients:noise_tunnel") is noise_tunnel
    assert registry.resolve("explainers.methods.aggregation:normlime") is normlime  # a dotted module


def test_kar_calls_a_methods_kar_function_where_it_has_one_else_its_own():
    shap, ig = registry.get("shap"), registry.get("ig")
    assert shap.kar_call == ("shap:kernel_shap", {"num_samples": None, "batch_size": 1000})
    assert ig.kar_call == (ig.function, ig.options)


def test_kar_options_without_a_kar_function_are_refused():
    with pytest.raises(ValueError, match="kar_options need a kar_function"):
        Method("x", "X", "#000", signed=False, source=Source.PER_IMAGE, function="m:f", kar_options={"a": 1})


def test_calls_with_the_same_function_options_and_inputs_share_a_key_and_others_do_not():
    smoothgrad, vargrad = registry.get("smoothgrad"), registry.get("vargrad")
    assert registry.call_key(smoothgrad.function, smoothgrad.options, smoothgrad.inputs) == registry.call_key(
        vargrad.function, vargrad.options, vargrad.inputs
    )
    assert registry.call_key("m:f", {"a": 1, "b": 2}, {}) == registry.call_key("m:f", {"b": 2, "a": 1}, {})
    assert registry.call_key("m:f", {"a": 1}, {}) != registry.call_key("m:f", {"a": 2}, {})


def test_the_overview_figure_is_the_papers_fig_1_then_the_other_methods():
    assert registry.figure_order() == ("vargrad", "smoothgrad", "lime", "normlime", "shap", "ig", "random")


def test_names_labels_and_colours_are_unique():
    labels = {registry.label(name) for name in registry.names()}
    colours = {registry.colour(name) for name in registry.names()}
    assert len(set(registry.names())) == len(labels) == len(colours) == len(registry.METHODS)


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
def test_every_consumer_takes_its_methods_from_the_registry():
    from analysis import simulate, stats
    from explainers import published
    from explainers.models import MethodName
    from kar.core import report as kar_report
    from kar.core.cells import BASELINE
    from kar.core.spec import KarSpec
    from survey.models import paper_methods

    assert tuple(MethodName.values) == registry.names()
    assert dict(MethodName.choices) == {name: registry.label(name) for name in registry.names()}
    assert tuple(paper_methods()) == stats.tally([[0]]).methods == registry.names(paper=True)
    assert KarSpec().methods == registry.names(kar=True)
    assert kar_report.label("normlime") == "NormLIME" and kar_report.label(BASELINE) == kar_report.BASELINE_LABEL
    assert published.STUDY["votes"] == {"normlime": 939, "lime": 438, "smoothgrad": 132, "vargrad": 151}
    assert simulate.PAPER_PREFERENCE == registry.paper_preference()
    # what simulate_responses and power_analysis use unless told otherwise, for the paper's four
    assert simulate.default_preference(registry.names(paper=True)) == pytest.approx(registry.paper_preference())
    assert simulate.parse_preference(simulate.PAPER_PREFERENCE_TEXT) == pytest.approx(registry.paper_preference())


def test_figure_labels_follow_a_newly_registered_method(monkeypatch):
    from explainers import render

    extra = Method("dummy", "Dummy method", "#000000", signed=False, source=Source.RANDOM)
    monkeypatch.setattr(registry, "METHODS", (*registry.METHODS, extra))
    assert registry.label("dummy") == "Dummy method" and registry.figure_order()[-1] == "dummy"
    assert render.label is registry.label


def test_every_method_states_how_its_colour_maps_become_one_channel():
    for method in registry.METHODS:
        assert isinstance(method.channels, registry.Channels) and len(method.channel_rule) > 30, method.name
    assert registry.get("smoothgrad").channels is registry.Channels.MAX  # Simonyan et al.'s max over channels
    assert registry.get("normlime").channels is registry.Channels.SUM  # a pixel's LIME weights add up
    assert registry.get("shap").channels is registry.Channels.SHARED and registry.get("shap").image_shape
