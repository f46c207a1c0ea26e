"""What the SHAP class maps add to ``generate_explanations``, measured against its LIME stage.

    .venv/bin/python benchmarks/shap_class_maps.py [--images 10] [--explanations 10] [--rounds 2]

Times the registry's SHAP class-map call (patch_shap, its default options: 2x2 patches,
2d + 2048 = 2,440 coalitions, training-mean background) on ``--images`` training images
(one per digit) and ``lime_local`` with generate_explanations' defaults (1,000 samples,
K = 20) on ``--explanations`` images, alternating, in one process, so both see the
same load. It prints each stage's wall and CPU seconds per image, extrapolated to
the defaults (100 SHAP images = 10 per digit, 1,000 LIME explanations), and their
ratio: a loaded machine slows both alike (CPU time least), so the ratio times the
LIME stage measured on an idle machine estimates SHAP's idle cost. Uses var/model/mnist_cnn.pt when present,
else a freshly initialised network (timing does not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explainers.data import load_embedded, sample_per_class  # noqa: E402
from explainers.generation import GenerationConfig  # noqa: E402
from explainers.methods import lime_local, patch_shap, registry  # noqa: E402
from explainers.model import load_checkpoint, new_model, probabilities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--explanations", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    path = Path(__file__).resolve().parent.parent / "var" / "model" / "mnist_cnn.pt"
    model = load_checkpoint(path, "cpu") if path.is_file() else new_model(0).eval()
    f = probabilities(model)
    data = load_embedded()
    config = GenerationConfig()
    options = dict(registry.get("shap").options)
    idx = sample_per_class(data.y_train, 1, 1)[: args.images]
    lime_idx = sample_per_class(data.y_train, 1, 2)[: args.explanations]
    times = {"shap": [], "lime": []}  # (wall, cpu) seconds per image of each round

    def timed(stage, n, call):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        times[stage].append(((time.perf_counter() - wall) / n, (time.process_time() - cpu) / n))

    for _ in range(args.rounds):
        timed(
            "shap",
            len(idx),
            lambda: patch_shap(
                f,
                data.x_train[idx],
                data.y_train[idx],
                **options,
                background=data.x_train.mean(0),
                batch_size=config.batch_size,
                seed=1,
                instance_ids=idx,
            ),
        )
        timed(
            "lime",
            len(lime_idx),
            lambda: lime_local(
                f,
                data.x_train[lime_idx],
                None,
                num_samples=config.num_samples,
                sigma=config.sigma,
                num_features=config.num_features,
                batch_size=config.batch_size,
                seed=0,
                instance_ids=lime_idx,
            ),
        )
    counts = {"shap": 10 * config.images_per_class, "lime": 10 * config.per_class}
    print(
        f"load average {os.getloadavg()[0]:.1f}; model {'trained' if path.is_file() else 'untrained'}; "
        f"SHAP options {options}"
    )
    best = {}
    for stage, n in counts.items():
        wall = min(w for w, _ in times[stage]) * n
        cpu = min(c for _, c in times[stage]) * n
        best[stage] = (wall, cpu)
        print(f"{stage}: {n} images -> {wall:.0f} s wall, {cpu:.0f} s CPU (best of {args.rounds})")
    print(
        f"SHAP / LIME stage: {best['shap'][0] / best['lime'][0]:.2f} wall, {best['shap'][1] / best['lime'][1]:.2f} CPU"
    )


if __name__ == "__main__":
    main()
