"""Every saliency method of the platform, described once (pure Python: no torch, no Django).

Model choices, generation, the gallery rows and overview figure, KAR's rankers,
the reports' labels and colours and the simulation's preferences all derive
from :data:`METHODS`. Adding a method means one module in ``explainers/methods/``
and one :class:`Method` entry below (then ``makemigrations``, because the
database checks method names).

How a class-level map is made (:class:`Source`):

- ``LIME_WEIGHTS``: ``function`` aggregates the set's local LIME weights (rows
  chosen by the model's prediction) per class, e.g. NormLIME or SP-LIME.
- ``PER_IMAGE``: ``function`` attributes each of the gradient images (the same
  ``images_per_class`` training images per true label for every such method),
  target = the label; the class map is the mean (``reduce="mean"``) or the mean
  absolute value (``reduce="mean_abs"``) over the class's images. ``output``
  names the attribute to read when the function returns several maps at once
  (the noise tunnel): methods with the same function, options and inputs share
  one call.
- ``RANDOM``: uniform random scores per class and pixel (a sanity check, no model).

Maps are one channel, H x W. Of a colour image (C > 1 channels) each method reduces its
C x H x W attribution to H x W by the rule of its literature (:class:`Channels`, applied by
:func:`explainers.methods.channels.to_pixels`; ``channel_rule`` says why, with the source);
of a one-channel image (MNIST) every rule leaves the values as they are.

The function is named by ``"module:function"`` inside ``explainers.methods`` (or
a dotted module) so this module stays importable without torch (participant
pages import the model choices); :func:`resolve` imports it on use. A
``PER_IMAGE`` function keeps the contract of
:class:`explainers.methods._common.PerImageMethod`. ``inputs`` name
data-derived arguments, resolved by generation (``explainers.generation.DATA_INPUTS``)
and by KAR for its feature spaces.

The way in: :func:`get` (one method), :func:`names` (which ones), :func:`resolve`
(its function); :func:`call_key` says when two methods can share one call.

KAR (``kar.core.rankings``) ranks features with the methods that opt in with
``kar=True``; it calls ``kar_function`` with ``kar_options`` where a method's
gallery call does not fit a feature space (Kernel SHAP per feature instead of
2x2-pixel patches), else ``function`` with ``options``. Methods that add noise
(a ``sigma`` option) run on standardised features; ``unit_power`` says how their
attributions convert back to the feature's units.
"""

from __future__ import annotations

import enum
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


class Channels(enum.Enum):
    """How a method's C x H x W attribution becomes a one-channel H x W map."""

    SUM = "the sum over a pixel's channels"
    MAX = "the maximum over a pixel's channels"
    SHARED = "every channel of a pixel holds the same value (one player covers them all): that value"
    NONE = "drawn per pixel: there are no channels to reduce"


class Source(enum.Enum):
    LIME_WEIGHTS = "local LIME weights, aggregated per predicted class"
    PER_IMAGE = "per-image attributions of a few training images per class, averaged"
    RANDOM = "uniform random scores"


@dataclass(frozen=True)
class Method:
    name: str  # used everywhere: arrays, files, database, CSV, reports
    label: str  # for people: pages, figures, reports
    colour: str  # matplotlib colour of the method in every figure
    signed: bool  # the class map has a sign; what is shown is its positive part (the paper's rule)
    source: Source
    function: str = ""  # "module:function" in explainers.methods (LIME_WEIGHTS, PER_IMAGE)
    output: str | None = None  # attribute of the function's result holding this method's maps
    reduce: str = "mean"  # PER_IMAGE: "mean" or "mean_abs" over a class's images
    options: Mapping[str, Any] = field(default_factory=dict)  # keyword defaults of ``function``
    inputs: Mapping[str, str] = field(default_factory=dict)  # keyword -> data-derived value
    paper_votes: int | None = None  # votes in the paper's study (one of its four survey methods)
    kar: bool = False  # KAR ranks features with it (a new method opts in once it works on KAR's spaces)
    kar_function: str = ""  # "module:function" KAR calls instead of ``function`` (with ``kar_options``)
    #: keyword values of ``kar_function``; ``batch_size`` here is a floor on KAR's rows per pass
    kar_options: Mapping[str, Any] = field(default_factory=dict)
    #: an attribution computed on z = x / unit is (1 / unit) ** unit_power per unit of x: 1 for a
    #: gradient or a LIME weight, 2 for a squared gradient or a variance of gradients (KAR's noise methods)
    unit_power: int = 1
    #: PER_IMAGE: generation passes the image shape (C, H, W) as ``shape=`` (SHAP's patches need it)
    image_shape: bool = False
    channels: Channels = Channels.SUM  # the rule that makes a colour attribution one channel
    channel_rule: str = ""  # the rule in a sentence, with its source in the literature (every entry below has one)
    description: str = ""
    #: what KAR's ranking is, where it differs from ``description`` (the class maps): KAR aggregates
    #: globally, over every explanation, and calls ``kar_function``
    kar_description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        object.__setattr__(self, "kar_options", MappingProxyType(dict(self.kar_options)))
        if self.source is not Source.RANDOM and ":" not in self.function:
            raise ValueError(f"method {self.name}: function must be 'module:function' (got {self.function!r})")
        if self.kar_function and ":" not in self.kar_function:
            raise ValueError(f"method {self.name}: kar_function must be 'module:function' (got {self.kar_function!r})")
        if self.kar_options and not self.kar_function:
            raise ValueError(f"method {self.name}: kar_options need a kar_function (else KAR uses options)")
        if self.reduce not in ("mean", "mean_abs"):
            raise ValueError(f"method {self.name}: reduce must be 'mean' or 'mean_abs' (got {self.reduce!r})")

    @property
    def paper(self) -> bool:
        """One of the paper's four survey methods."""
        return self.paper_votes is not None

    @property
    def kar_text(self) -> str:
        """KAR's ranking in words (the manifest and the report quote it)."""
        return self.kar_description or self.description

    @property
    def kar_call(self) -> tuple[str, Mapping[str, Any]]:
        """(function, options) of KAR's call: ``kar_function`` where the method has one."""
        if self.kar_function:
            return self.kar_function, self.kar_options
        return self.function, self.options


_NOISE = {"num_samples": 100, "sigma": 0.3}  # the paper's SmoothGrad settings, shared by VarGrad

_LIME_CHANNELS = (
    "the sum of the local LIME weights of a pixel's channels, before aggregating: what LIME's linear "
    "surrogate (Ribeiro et al. 2016) says a change of the whole pixel does"
)
_GRADIENT_CHANNELS = (
    "the maximum over a pixel's channels of each image's map, before averaging: Simonyan, Vedaldi and "
    "Zisserman (2014, Sec. 3.1) take max over channels of |gradient| for a colour image's saliency map"
)

METHODS: tuple[Method, ...] = (
    Method(
        "normlime",
        "NormLIME",
        "#d62728",
        signed=True,
        source=Source.LIME_WEIGHTS,
        function="aggregation:normlime",
        paper_votes=939,
        kar=True,
        channels=Channels.SUM,
        channel_rule=_LIME_CHANNELS,
        description="NormLIME (paper Eq. 9): normalised local LIME weights averaged over a class's explanations",
        kar_description="global NormLIME (paper Eq. 5): normalised local LIME weights averaged over all explanations",
    ),
    Method(
        "lime",
        "LIME",
        "#ff7f0e",
        signed=True,
        source=Source.LIME_WEIGHTS,
        function="aggregation:lime_sp",
        paper_votes=438,
        kar=True,
        channels=Channels.SUM,
        channel_rule=_LIME_CHANNELS,
        description="SP-LIME column norm (paper Eq. 6) of a class's local LIME weights",
        kar_description="global SP-LIME column norm (paper Eq. 6) of all explanations' local LIME weights",
    ),
    Method(
        "smoothgrad",
        "SmoothGrad²",
        "#2ca02c",
        signed=False,
        source=Source.PER_IMAGE,
        function="noisy_gradients:noise_tunnel",
        output="smoothgrad_sq",
        options=_NOISE,
        paper_votes=132,
        kar=True,
        unit_power=2,
        channels=Channels.MAX,
        channel_rule=_GRADIENT_CHANNELS,
        description="SmoothGrad-squared: mean squared gradient over noisy copies of each image",
    ),
    Method(
        "vargrad",
        "VarGrad",
        "#9467bd",
        signed=False,
        source=Source.PER_IMAGE,
        function="noisy_gradients:noise_tunnel",
        output="vargrad",
        options=_NOISE,
        paper_votes=151,
        kar=True,
        unit_power=2,
        channels=Channels.MAX,
        channel_rule=_GRADIENT_CHANNELS,
        description="VarGrad: variance of |gradient| over noisy copies of each image",
    ),
    Method(
        "shap",
        "SHAP",
        "#1f77b4",
        signed=False,
        source=Source.PER_IMAGE,
        function="shap:patch_shap",
        reduce="mean_abs",
        options={"patch": 2, "num_samples": None},
        inputs={"background": "train_mean"},
        # KAR: every feature a player (each pixel or conv feature), budget 2d + 2048
        kar=True,
        kar_function="shap:kernel_shap",
        kar_options={"num_samples": None, "batch_size": 1000},  # forward passes only: larger batches
        image_shape=True,
        channels=Channels.SHARED,
        channel_rule="a patch covers every channel of its pixels (one player of Kernel SHAP), so the channels "
        "hold the patch's value: that value",
        description="mean |Kernel SHAP| over 2x2-pixel patches, background = training mean, "
        "budget 2d + 2048 coalitions (so the least squares are determined)",
        kar_description="mean |Kernel SHAP| per feature (every pixel or conv feature a player), background = "
        "training mean, budget 2d + 2048 coalitions (so the least squares are determined)",
    ),
    Method(
        "ig",
        "Integrated Gradients",
        "#8c564b",
        signed=True,
        source=Source.PER_IMAGE,
        function="path_integral:integrated_gradients",
        options={"steps": 64, "baseline": "black"},
        kar=True,
        channels=Channels.SUM,
        channel_rule="the sum over a pixel's channels, which keeps completeness (a map still sums to "
        "f(x) - f(baseline), Sundararajan et al. 2017), as Captum's visualize_image_attr combines channels",
        description="Integrated Gradients from a black image, 64 Gauss-Legendre steps, mean over a class's "
        "images (the same ones SmoothGrad² uses)",
    ),
    Method(
        "random",
        "Random",
        "#7f7f7f",
        signed=False,
        source=Source.RANDOM,
        kar=True,
        channels=Channels.NONE,
        channel_rule="scores are drawn per pixel of the H x W map: there are no channels",
        description="uniform random scores (a sanity check)",
    ),
)


def get(name: str) -> Method:
    """The method called ``name``; a one-line error naming the known ones otherwise."""
    for method in METHODS:  # at call time: tests may register a method
        if method.name == name:
            return method
    raise KeyError(f"unknown method {name!r} (known: {', '.join(names())})")


def names(*, paper: bool | None = None, kar: bool | None = None) -> tuple[str, ...]:
    """Registered method names in registry order, optionally only (or all but) the paper's or KAR's.

    ``names(paper=True)`` is the paper's four survey methods in the order of its
    tables (the index order of vote arrays); ``names(kar=True)`` the methods that
    KAR ranks features with. Read at call time, so a test may register a method.
    """
    return tuple(m.name for m in METHODS if (paper is None or m.paper == paper) and (kar is None or m.kar == kar))


def label(name: str) -> str:
    """The label of ``name`` for people (the name itself for what is not a method)."""
    return next((m.label for m in METHODS if m.name == name), name)


def colour(name: str) -> str:
    """The matplotlib colour of method ``name`` in every figure."""
    return get(name).colour


def resolve(function: Method | str) -> Callable:
    """The callable of a method (its ``function``) or of a ``"module:function"`` spec.

    ``module`` is a module of ``explainers.methods``, or a dotted module path (a
    method defined elsewhere, e.g. in a test). Imported on use: this module stays
    free of torch.
    """
    spec = function.function if isinstance(function, Method) else function
    module, _, name = spec.partition(":")
    package = module if "." in module else f"{__package__}.{module}"
    return getattr(importlib.import_module(package), name)


def call_key(function: str, options: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    """Methods whose calls have the same key share one call (SmoothGrad² and VarGrad: one noise tunnel)."""
    return json.dumps([function, dict(options), dict(inputs)], sort_keys=True, default=str)


def paper_preference() -> dict[str, float]:
    """The paper's vote shares per method (939 / 438 / 132 / 151 of 1,660), rounded to 0.01."""
    votes = {name: get(name).paper_votes for name in names(paper=True)}
    total = sum(votes.values())
    return {name: round(v / total, 2) for name, v in votes.items()}


def figure_order() -> tuple[str, ...]:
    """Rows of the overview figure: the paper's Fig. 1 (its four methods bottom-up), then the others."""
    return tuple(reversed(names(paper=True))) + names(paper=False)
