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
- ``RANDOM``: uniform random scores per class (a sanity check, no model).

The function is named by ``"module:function"`` inside ``explainers.methods`` so
this module stays importable without torch (participant pages import the
model choices). ``inputs`` name data-derived arguments, resolved by
generation (see ``explainers.generation.DATA_INPUTS``).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


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
    kar: bool = True  # KAR can rank features with it
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        if self.source is not Source.RANDOM and ":" not in self.function:
            raise ValueError(f"method {self.name}: function must be 'module:function' (got {self.function!r})")
        if self.reduce not in ("mean", "mean_abs"):
            raise ValueError(f"method {self.name}: reduce must be 'mean' or 'mean_abs' (got {self.reduce!r})")

    @property
    def paper(self) -> bool:
        """One of the paper's four survey methods."""
        return self.paper_votes is not None


_NOISE = {"num_samples": 100, "sigma": 0.3}  # the paper's SmoothGrad settings, shared by VarGrad

METHODS: tuple[Method, ...] = (
    Method(
        "normlime", "NormLIME", "#d62728", signed=True, source=Source.LIME_WEIGHTS,
        function="normlime:normlime", paper_votes=939,
        description="NormLIME (paper Eq. 9): normalised local LIME weights averaged over a class's explanations",
    ),
    Method(
        "lime", "LIME", "#ff7f0e", signed=True, source=Source.LIME_WEIGHTS,
        function="normlime:lime_sp", paper_votes=438,
        description="SP-LIME column norm (paper Eq. 6) of a class's local LIME weights",
    ),
    Method(
        "smoothgrad", "SmoothGrad²", "#2ca02c", signed=False, source=Source.PER_IMAGE,
        function="noise_tunnel:noise_tunnel", output="smoothgrad_sq", options=_NOISE, paper_votes=132,
        description="SmoothGrad-squared: mean squared gradient over noisy copies of each image",
    ),
    Method(
        "vargrad", "VarGrad", "#9467bd", signed=False, source=Source.PER_IMAGE,
        function="noise_tunnel:noise_tunnel", output="vargrad", options=_NOISE, paper_votes=151,
        description="VarGrad: variance of |gradient| over noisy copies of each image",
    ),
    Method(
        "shap", "SHAP", "#1f77b4", signed=False, source=Source.PER_IMAGE,
        function="shap:patch_shap", reduce="mean_abs", options={"patch": 2, "num_samples": None},
        inputs={"background": "train_mean"},
        description="mean |Kernel SHAP| over 2x2-pixel patches, background = training mean, "
        "budget 2d + 2048 coalitions (so the least squares are determined)",
    ),
    Method(
        "ig", "Integrated Gradients", "#8c564b", signed=True, source=Source.PER_IMAGE,
        function="integrated_gradients:integrated_gradients", options={"steps": 64, "baseline": "black"},
        description="Integrated Gradients from a black image, 64 Gauss-Legendre steps, mean over a class's "
        "images (the same ones SmoothGrad² uses)",
    ),
    Method(
        "random", "Random", "#7f7f7f", signed=False, source=Source.RANDOM,
        description="uniform random scores (a sanity check)",
    ),
)

BY_NAME: Mapping[str, Method] = MappingProxyType({m.name: m for m in METHODS})
NAMES: tuple[str, ...] = tuple(BY_NAME)
LABELS: Mapping[str, str] = MappingProxyType({m.name: m.label for m in METHODS})
COLOURS: Mapping[str, str] = MappingProxyType({m.name: m.colour for m in METHODS})
#: The paper's four survey methods, in the order of its tables (the index order of vote arrays).
PAPER_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.paper)
#: The methods KAR can rank features with.
KAR_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.kar)


def get(name: str) -> Method:
    """The method called ``name``; a one-line error naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r} (known: {', '.join(NAMES)})") from None


def names(*, paper: bool | None = None, kar: bool | None = None) -> tuple[str, ...]:
    """Registered method names in registry order, optionally only (or all but) the paper's or KAR's.

    ``names(paper=True)`` is the paper's four survey methods in the order of its
    tables (the index order of vote arrays); ``names(kar=True)`` the methods that
    KAR ranks features with. Read at call time, so a test may register a method.
    """
    return tuple(
        m.name
        for m in METHODS
        if (paper is None or m.paper == paper) and (kar is None or m.kar == kar)
    )


def label(name: str) -> str:
    """The label of ``name`` for people (the name itself for what is not a method)."""
    return next((m.label for m in METHODS if m.name == name), name)  # at call time: tests may register one


def paper_preference() -> dict[str, float]:
    """The paper's vote shares per method (939 / 438 / 132 / 151 of 1,660), rounded to 0.01."""
    votes = {m.name: m.paper_votes for m in METHODS if m.paper_votes is not None}
    total = sum(votes.values())
    return {name: round(v / total, 2) for name, v in votes.items()}


def figure_order() -> tuple[str, ...]:
    """Rows of the overview figure: the paper's Fig. 1 (its four methods bottom-up), then the others."""
    paper = [m.name for m in METHODS if m.paper]  # read at call time, so a test may register a method
    return tuple(reversed(paper)) + tuple(m.name for m in METHODS if not m.paper)
