#!/usr/bin/env python
"""Why NormLIME's kept conv features fail at 90 %: how often LIME selected the features each ranking keeps.

    DJANGO_DEBUG=1 .venv/bin/python benchmarks/kar_selection_counts.py [--run var/kar/kar-paper-conv] [--keep 10]

Recomputes the conv LIME weights of a run (same images, seed and settings as its rankings; about
2 minutes on one core), checks that their NormLIME and LIME aggregates equal the run's rankings,
and prints, for the features each ranking keeps at (100 - keep) % removed, how many of the run's
local explanations selected them. NormLIME averages a feature's weight over the explanations that
selected it (Eq. 5), so a feature selected once, strongly, can outrank one selected by most.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="var/kar/kar-paper-conv")
    parser.add_argument("--keep", type=int, default=10, help="percent of features kept (default 10: 90 %% removed)")
    args = parser.parse_args()
    import django

    django.setup()
    import torch

    from explainers import cli
    from explainers.methods import registry
    from explainers.model import load_checkpoint
    from kar.core.rankings import RankingConfig, _lime_weights, _RankingContext
    from kar.core.spaces import conv_space, explained_models

    run = Path(args.run)
    manifest = json.loads((run / "manifest.json").read_text())
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(Path(manifest["model"]["path"]), "cpu")
    space = conv_space(cli.load_data(None), checkpoint)
    config = RankingConfig(**manifest["parameters"]["ranking"])
    ctx = _RankingContext(space, explained_models(checkpoint)["conv"], config, manifest["parameters"]["seed"], None)
    W, source = _lime_weights(ctx)
    npz = np.load(run / "rankings.npz")
    # run 1's rankings (its seed is the run's), or the one shared ranking of a run made before rankings were per run
    saved = {k.removesuffix("/1"): npz[k] for k in npz.files if k.endswith("/1")} or {k: npz[k] for k in npz.files}
    for name in ("normlime", "lime"):
        ours = np.abs(registry.resolve(registry.get(name))(W))
        print(f"{name}: recomputed ranking equals the run's: {np.allclose(ours, saved[f'conv/{name}'])}")
    counts = (W != 0).sum(0)
    k = space.dim * args.keep // 100
    print(
        f"{len(W)} explanations, K = {source['num_features']}, never selected {source['never_selected']} of {space.dim}"
    )
    print(f"selections per feature: median {np.median(counts):.0f}, mean {counts.mean():.1f}")
    for name in ("normlime", "lime", "smoothgrad", "vargrad", "shap", "ig"):
        top = np.argsort(-saved[f"conv/{name}"], kind="stable")[:k]
        c = counts[top]
        print(
            f"{registry.get(name).label:12s} keeps {k}: selected by median {np.median(c):.0f} explanations; "
            f"{(c <= 2).sum()} kept features selected by 2 or fewer"
        )


if __name__ == "__main__":
    main()
