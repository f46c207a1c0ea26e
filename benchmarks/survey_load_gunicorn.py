"""gunicorn hooks for benchmarks/survey_load.py: each worker adds up the CPU time of its requests by kind.

The load script names each request's kind in the X-Load-Kind header (landing, start, question,
answer, image...). A worker thread's CPU time from just before the application is called to
just after the response is written counts for that kind; at exit each worker writes its sums to
``$SURVEY_LOAD_CPU_DIR/<pid>.json``. What a worker spends outside requests (accepting and
parsing connections, its main loop) is not attributed here; the script shares it out.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict

_cpu: dict[str, float] = defaultdict(float)
_count: dict[str, int] = defaultdict(int)


def _kind(req) -> str:
    for name, value in req.headers:
        if name == "X-LOAD-KIND":
            return value
    return "untagged"


def pre_request(worker, req) -> None:
    req.load_cpu_start = time.thread_time()


def post_request(worker, req, environ, resp) -> None:
    kind = _kind(req)
    _cpu[kind] += time.thread_time() - req.load_cpu_start
    _count[kind] += 1


def worker_exit(server, worker) -> None:
    folder = os.environ.get("SURVEY_LOAD_CPU_DIR")
    if folder:
        data = {"cpu_s": dict(_cpu), "requests": dict(_count)}
        with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as f:
            json.dump(data, f)
