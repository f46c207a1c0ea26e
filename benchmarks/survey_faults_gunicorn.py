"""gunicorn hooks for benchmarks/survey_faults.py: each worker keeps its count of requests in flight.

The fault script kills a worker only while it has requests in flight, answers (POSTs) if it can,
so that the kill cuts requests half-way (the worst case). Each worker writes "REQUESTS POSTS" in
flight to ``$SURVEY_FAULTS_INFLIGHT_DIR/<pid>`` on every change.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_inflight = {"requests": 0, "posts": 0}


def _count(req, step: int) -> None:
    with _lock:
        _inflight["requests"] += step
        if req.method == "POST":
            _inflight["posts"] += step
        folder = os.environ.get("SURVEY_FAULTS_INFLIGHT_DIR")
        if folder:
            with open(os.path.join(folder, str(os.getpid())), "w") as f:
                f.write(f"{_inflight['requests']} {_inflight['posts']}")


def pre_request(worker, req) -> None:
    _count(req, +1)


def post_request(worker, req, environ, resp) -> None:
    _count(req, -1)
