"""Our gradient and Shapley methods against Captum: the docs' table of max|ours - captum| / max|captum|.

On a CNN trained like the suite's tiny one (8 epochs on 400 embedded digits) and on random
weights, over 4 test digits. The comparisons are the test suite's
(``tests/explainers/captum_reference.py``); Captum is a test-only dependency.

    .venv/bin/python benchmarks/captum_agreement.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project and its tests, as for every benchmark


def main() -> None:
    from explainers.model import TrainConfig, new_model, probabilities, train
    from tests.conftest import _tiny_arrays
    from tests.explainers.captum_reference import all_comparisons

    x_train, y_train, x_test, y_test = _tiny_arrays()
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) / 255
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255
    trained = train(new_model(0), x_train, y_train.astype(np.int64), config=TrainConfig(epochs=8), seed=0)
    for label, model in (("trained (8 epochs, 400 digits)", trained), ("random weights", new_model(0).eval())):
        rows = all_comparisons(probabilities(model), x_test[:4], y_test[:4].astype(np.int64), x_train.mean(0))
        print(f"\n{label}: max|ours - captum| / max|captum| over 4 test digits")
        for name, value in rows.items():
            print(f"  {value:9.1e}  {name}")


if __name__ == "__main__":
    main()
