"""KAR's rankers: the registry's methods (``registry.names(kar=True)``) and KAR's own variants.

The variants measure two conventions of the paper's NormLIME/LIME rankings that
the paper does not state, and add a baseline that needs no model:

- ``std``: the local LIME weights per standard deviation of the feature over the
  training rows, instead of per unit of the feature. NormLIME's |w|^2 / ||w||_1
  grows like 1 / sd^2 in raw units, which favours rarely active, low-variance
  features; in standardised units it does not.
- ``logp``: LIME's surrogate fitted to the log-probability of the target class
  instead of its probability. A saturated softmax (p near 1) leaves the
  probability almost flat, so an explanation's weights shrink with 1 - p and a
  few unsure images dominate the aggregate; the log-probability is not flat there.
- ``variance``: each feature's variance over the training rows (no model).

The variants are KAR-only: they rank features, they make no maps and no survey
questions, so they are not methods of the registry (which the database and the
gallery read). Everything in ``kar`` that names a ranker goes through
:func:`names`, :func:`label` and :func:`colour` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from explainers.methods import registry

#: The conventions a variant changes, in words (the report and the KAR page quote them).
CONVENTIONS = {
    "std": "local LIME weights per standard deviation of each feature over the training rows",
    "logp": "LIME fitted to the log-probability of the target class instead of its probability",
}


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    colour: str
    base: str | None  # the registry method whose aggregate of LIME weights it uses (None: no LIME)
    convention: str | None  # a key of CONVENTIONS (None: the variance baseline)
    description: str


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "normlime_std",
        "NormLIME (std. weights)",
        "#f08080",
        "normlime",
        "std",
        "global NormLIME (paper Eq. 5) of the local LIME weights per sd of each feature",
    ),
    Variant(
        "lime_std",
        "LIME (std. weights)",
        "#ffbb78",
        "lime",
        "std",
        "SP-LIME column norm (paper Eq. 6) of the local LIME weights per sd of each feature",
    ),
    Variant(
        "normlime_logp",
        "NormLIME (log-prob. LIME)",
        "#e377c2",
        "normlime",
        "logp",
        "global NormLIME (paper Eq. 5) of local LIME weights fitted to log p(target)",
    ),
    Variant(
        "lime_logp",
        "LIME (log-prob. LIME)",
        "#bcbd22",
        "lime",
        "logp",
        "SP-LIME column norm (paper Eq. 6) of local LIME weights fitted to log p(target)",
    ),
    Variant(
        "variance",
        "feature variance",
        "#17becf",
        None,
        None,
        "each feature's variance over the training rows (no model: a baseline)",
    ),
)
_BY_NAME = {v.name: v for v in VARIANTS}


def variant_names() -> tuple[str, ...]:
    return tuple(v.name for v in VARIANTS)


def names() -> tuple[str, ...]:
    """Every ranker KAR knows: the registry's KAR methods (the default grid), then the variants."""
    return registry.names(kar=True) + variant_names()


def is_variant(name: str) -> bool:
    return name in _BY_NAME


def variant(name: str) -> Variant:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a KAR variant (known: {', '.join(_BY_NAME)})") from None


def label(name: str) -> str:
    """A ranker's label for people (the name itself for what is not one)."""
    return _BY_NAME[name].label if name in _BY_NAME else registry.label(name)


def colour(name: str) -> str:
    return _BY_NAME[name].colour if name in _BY_NAME else registry.colour(name)


def variants_of(convention: str) -> dict[str, str]:
    """{registry method: its variant} for one convention, e.g. {"normlime": "normlime_std", "lime": "lime_std"}."""
    return {v.base: v.name for v in VARIANTS if v.convention == convention and v.base}
