"""The grid of a run (feature sets x methods x thresholds x runs) and everything that decides its numbers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from explainers.compute import DEFAULT_PRECISION
from explainers.methods import registry
from explainers.model import TrainConfig

from . import rankers
from .cells import BASELINE, Cell
from .errors import KarError
from .masking import MODES
from .rankings import RankingConfig
from .spaces import FEATURE_SETS

DEFAULT_THRESHOLDS = (10, 50, 90)
PAPER_THRESHOLDS = tuple(range(10, 100, 10))

# The grid presets of ``run_kar``. The defaults are a quick look (3 thresholds, 1 run, 10 epochs:
# minutes on 2 CPU cores, see the README's measured numbers); --paper is the paper's grid (9
# thresholds, 5 runs, the full training). Both rank from the same images (per_class per class).
DEFAULT_SETTINGS = {
    "thresholds": DEFAULT_THRESHOLDS,
    "runs": 1,
    "epochs": 10,
    "per_class": 10,
}
PAPER_SETTINGS = {
    "thresholds": PAPER_THRESHOLDS,
    "runs": 5,
    "epochs": TrainConfig.epochs,
    "per_class": 10,
}


@dataclass(frozen=True)
class KarSpec:
    """Everything that decides the numbers of a run (device and jobs do not)."""

    feature_sets: tuple[str, ...] = FEATURE_SETS
    methods: tuple[str, ...] = field(default_factory=lambda: registry.names(kar=True))
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    runs: int = 1
    seed: int = 0
    mode: str = "kar"
    train: TrainConfig = field(default_factory=TrainConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    precision: str = DEFAULT_PRECISION  # arithmetic of every network batch (explainers.compute): it changes the numbers

    @classmethod
    def preset(cls, paper: bool = False, **overrides) -> KarSpec:
        """The default grid (or ``paper``'s) with ``overrides`` (KarSpec fields or the settings' keys)."""
        ranking_keys = {f.name for f in fields(RankingConfig)}
        values = {**(PAPER_SETTINGS if paper else DEFAULT_SETTINGS)}
        values.update({k: v for k, v in overrides.items() if k in values or k in ranking_keys})
        ranking = replace(
            overrides.get("ranking", RankingConfig()), **{k: v for k, v in values.items() if k in ranking_keys}
        )
        rest = {k: v for k, v in overrides.items() if k not in values and k != "ranking"}
        return cls(
            thresholds=tuple(values["thresholds"]),
            runs=values["runs"],
            train=TrainConfig(epochs=values["epochs"]),
            ranking=ranking,
            **rest,
        )

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in rankers.names()]
        if unknown:
            raise KarError(f"unknown method {unknown[0]!r} (choose from {', '.join(rankers.names())})")
        bad = [t for t in self.thresholds if not (isinstance(t, int) and 1 <= t <= 99)]
        if bad:
            raise KarError(f"threshold {bad[0]!r} is outside 1-99 (percent of features removed)")
        if self.mode not in MODES:
            raise KarError(f"unknown mode {self.mode!r} (choose from {', '.join(MODES)})")
        if self.runs < 1:
            raise KarError(f"runs must be at least 1 (got {self.runs})")
        if not self.feature_sets or not self.methods or not self.thresholds:
            raise KarError("feature sets, methods and thresholds must each name at least one value")

    def run_seed(self, run: int) -> int:
        """Run 1 trains with ``seed`` itself, run r with seed + r - 1."""
        return self.seed + run - 1

    def cells(self) -> list[Cell]:
        """Baselines first (every gain needs one), then run by run so early runs complete early."""
        baselines = [
            Cell(fs, BASELINE, 0, r, self.run_seed(r)) for r in range(1, self.runs + 1) for fs in self.feature_sets
        ]
        rest = [
            Cell(fs, m, t, r, self.run_seed(r))
            for r in range(1, self.runs + 1)
            for fs in self.feature_sets
            for m in self.methods
            for t in self.thresholds
        ]
        return baselines + rest

    def key(self, cell: Cell) -> tuple:
        """A cell's key, as :attr:`kar.core.cells.Result.key` gives it for the cell's result."""
        return (cell.feature_set, self.mode, cell.method, cell.threshold, cell.run)

    def order(self) -> dict[tuple, int]:
        """Each cell's key -> its position in :meth:`cells` (results are written in this order)."""
        return {self.key(c): i for i, c in enumerate(self.cells())}

    def parameters(self) -> dict:
        return {
            "feature_sets": list(self.feature_sets),
            "methods": list(self.methods),
            "thresholds": list(self.thresholds),
            "runs": self.runs,
            "seed": self.seed,
            "mode": self.mode,
            "train": asdict(self.train),
            "ranking": asdict(self.ranking),
            "precision": self.precision,
            "tiebreak": "random permutation seeded by the run (seed + run - 1), as is the Random ranking",
            "rankings": "drawn per run: each run's rankings explain their own per_class images per class, "
            "chosen with the run's seed (seed + run - 1)",
            "threads_per_cell": 1,
        }


def fingerprint(parameters: dict) -> str:
    blob = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: The one parameter a run folder may grow in when resumed: run r's cells are the same whatever the
#: number of runs (each run has its own seed and rankings), so more runs add cells and change none.
GROWS = "runs"


def run_fingerprint(parameters: dict) -> str:
    """A run folder's fingerprint: of every parameter but the number of runs (:data:`GROWS`)."""
    return fingerprint({k: v for k, v in parameters.items() if k != GROWS})


def data_fingerprint(described: dict) -> str:
    """Of a data set as ``ImageData.describe()`` gives it (source, sizes, file checksums and the training
    subset, where there is one: a description without one has the fingerprint it had before subsets)."""
    parts = {k: described.get(k) for k in ("source", "train", "test", "files")}
    if described.get("train_subset"):
        parts["train_subset"] = described["train_subset"]
    return fingerprint(parts)


def set_fingerprint(described: dict) -> str:
    """The :func:`data_fingerprint` of the whole set a description's training subset was drawn from (the
    description's own where it has none): what a model, an explanation set and a run must share."""
    subset = described.get("train_subset")
    if not subset:
        return data_fingerprint(described)
    whole = {k: v for k, v in described.items() if k != "train_subset"}
    return data_fingerprint({**whole, "train": subset["of"]})
