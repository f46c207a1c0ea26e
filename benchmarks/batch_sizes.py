"""The gradient methods' and SHAP's time per batch size, interleaved (sets compute.BACKWARD_BATCH / FORWARD_BATCH).

    .venv/bin/python benchmarks/batch_sizes.py [model checkpoint, default var/model/mnist_cnn.pt]

10 training images: the noise tunnel (100 samples), IG (64 steps); SHAP over 2x2 patches for 2 images.
"""

import os
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from explainers.data import load_embedded
from explainers.methods import integrated_gradients, noise_tunnel
from explainers.methods.shap import patch_shap
from explainers.model import load_checkpoint, probabilities

path = sys.argv[1] if len(sys.argv) > 1 else "var/model/mnist_cnn.pt"
f = probabilities(load_checkpoint(path))
d = load_embedded()
x = d.x_train[:10]
y = d.y_train[:10]
bg = d.x_train.mean(0)
jobs = {}
for bs in (125, 250, 500, 1000):
    jobs[f"noise_tunnel {bs}"] = lambda bs=bs: noise_tunnel(f, x, y, num_samples=100, batch_size=bs)
    jobs[f"ig {bs}"] = lambda bs=bs: integrated_gradients(f, x, y, steps=64, batch_size=bs)
    jobs[f"shap {bs}"] = lambda bs=bs: patch_shap(f, x[:2], y[:2], background=bg, batch_size=bs)
noise_tunnel(f, x[:1], y[:1], num_samples=20)
res = {k: [] for k in jobs}
for r in range(2):
    items = list(jobs.items())
    for k, j in items if r % 2 == 0 else items[::-1]:
        t = time.perf_counter()
        j()
        res[k].append(time.perf_counter() - t)
print("load", os.getloadavg())
for k, v in res.items():
    print(f"| {k} | best {min(v):.2f} s | runs {', '.join(f'{s:.2f}' for s in v)} |")
