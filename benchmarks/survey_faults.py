#!/usr/bin/env python
"""Fault benchmark of the survey: participants answer while PostgreSQL restarts and a worker is killed.

The production set-up on the loopback, as benchmarks/survey_load.py builds it (a fresh
PostgreSQL database, migrations, collectstatic, a study, gunicorn with DJANGO_DEBUG=0), and N
participants who take the survey with a think time. At set moments the script injects faults:

- ``restart``: ``pg_ctlcluster VERSION main restart`` (a fast shutdown: sessions are ended, open
  transactions rolled back, then the server starts again);
- ``crash``: ``pg_ctlcluster VERSION main stop -m immediate`` (no shutdown checkpoint, crash
  recovery at the next start), ``--down`` seconds with no database, then ``start``;
- ``kill``: SIGKILL to a gunicorn worker that has requests in flight (the OOM killer, a hard
  deploy); gunicorn starts another.

Each participant behaves like a person at a browser: on an error page (5xx) or a dropped
connection it waits (the page's Retry-After, else --retry-pause) and sends the same request
again: a question page is fetched again, an answer is posted again with the same choice. An
answer counts as acknowledged when the server redirects to the next question (303), which is
what tells the participant it was saved.

At the end the database is checked: every acknowledged answer is stored exactly once with the
choice sent; stored answers that were never acknowledged (the server committed, the reply was
lost) carry the choice that was sent; no participant has a gap or a duplicate; every
participant finished. Reported: errors seen by participants (by kind), each participant's
longest outage, and each fault's time to recover.

This restarts the machine's PostgreSQL cluster: every database on it goes away for a moment,
so do not run it beside the test suite. Needs root (or the postgres user) for pg_ctlcluster.

    .venv/bin/python benchmarks/survey_faults.py
    .venv/bin/python benchmarks/survey_faults.py --participants 100 --think 1 --faults restart@15,kill@30,crash@45
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import survey_load as load  # noqa: E402 (the production stack's set-up, shared with the load benchmark)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/survey_faults"
HOOKS = Path(__file__).resolve().parent / "survey_faults_gunicorn.py"
FAULT_KINDS = ("restart", "crash", "kill")
RETRYABLE = {500, 502, 503, 504}  # what a person meets as an error page and reloads; 500 is also reported
NEXT = re.compile(r"/q/(\d+)/$")


# --- participants who retry as people do -----------------------------------------------------------


@dataclass
class Failure:
    at: float  # seconds since the run started, when the participant saw it
    kind: str  # request kind: landing, start, instructions, question, answer, finish
    what: str  # "HTTP 503", "HTTP 500", "dropped: RemoteDisconnected", ...
    retry_after: bool = False


@dataclass
class Participant:
    worker: str
    acknowledged: dict[int, int] = field(default_factory=dict)  # position -> choice, answers the server confirmed
    attempted: dict[int, int] = field(default_factory=dict)  # position -> choice sent (acknowledged or not)
    failures: list[Failure] = field(default_factory=list)
    outages: list[tuple[float, float]] = field(default_factory=list)  # (first failure, next success), seconds
    gave_up: str | None = None
    finished: bool = False
    requests: int = 0


class PatientBrowser:
    """One participant's connection: a failed request is sent again after a pause, until it works."""

    def __init__(self, host: str, port: int, p: Participant, t0: float, args):
        self.host, self.port, self.p, self.t0, self.args = host, port, p, t0, args
        self.conn: http.client.HTTPConnection | None = None
        self.deadline = t0 + args.deadline

    def _once(self, method: str, path: str, data: bytes | None) -> tuple[int, dict[str, str], bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)
        headers = {"User-Agent": "survey-faults/1.0", "Host": "127.0.0.1"}
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def request(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, bytes]:
        data = urlencode(body).encode() if body is not None else None
        first_failure = None
        while True:
            self.p.requests += 1
            try:
                status, headers, content = self._once(method, path, data)
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, closed mid-reply, timed out
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                status, headers, content = None, {}, b""
                what = f"dropped: {type(exc).__name__}"
            if status is not None and status not in RETRYABLE:
                if first_failure is not None:
                    self.p.outages.append((first_failure - self.t0, time.monotonic() - self.t0))
                return status, headers, content
            if status is not None:
                what = f"HTTP {status}"
                if b"Traceback" in content:
                    what += " with a traceback"
            seen = time.monotonic()  # a failure is dated when it is seen: a request under way as a fault begins is its
            self.p.failures.append(Failure(seen - self.t0, kind, what, "retry-after" in headers))
            first_failure = first_failure if first_failure is not None else seen
            if time.monotonic() > self.deadline:
                raise RuntimeError(f"{kind}: still failing at the deadline ({what})")
            pause = float(headers.get("retry-after", self.args.retry_pause))
            time.sleep(min(pause, self.args.retry_pause_max))

    def close(self):
        if self.conn is not None:
            self.conn.close()


def take_survey(index: int, base: str, slug: str, args, t0: float, gate: threading.Barrier) -> Participant:
    parts = urlsplit(base)
    worker = f"FAULTWORKER{index:05d}"
    p = Participant(worker=worker)
    rng = random.Random(index)
    browser = PatientBrowser(parts.hostname, parts.port or 80, p, t0, args)
    params = {"assignmentId": f"FAULTASSIGN{index:05d}", "hitId": "FAULTHIT", "workerId": worker}
    params["turkSubmitTo"] = load.SANDBOX

    def expect(status, wanted, what):
        if status not in wanted:
            raise RuntimeError(f"{what}: HTTP {status}, expected {' or '.join(map(str, wanted))}")

    try:
        gate.wait(timeout=120)
        time.sleep(args.ramp * index / args.participants)
        status, _, _ = browser.request("landing", "GET", f"/s/{slug}/?{urlencode(params)}")
        expect(status, (200,), "landing")
        status, headers, _ = browser.request("start", "POST", f"/s/{slug}/start/", {**params, "consent": "on"})
        expect(status, (303,), "start")
        home = urlsplit(headers["location"]).path
        status, _, _ = browser.request("instructions", "GET", home)
        expect(status, (200,), "instructions")
        position: int | None = 1
        while position is not None:
            status, headers, page = browser.request("question", "GET", f"{home}q/{position}/")
            expect(status, (200, 302), f"question {position}")
            if status == 302:  # the question due is another one (an answer stored but not acknowledged)
                match = NEXT.search(urlsplit(headers["location"]).path)
                position = int(match.group(1)) if match else None
                continue
            item = int(load.ITEM.search(page).group(1))
            choice = rng.randint(1, 4)
            time.sleep(rng.uniform(0.5 * args.think, 1.5 * args.think))
            p.attempted[position] = choice
            status, headers, _ = browser.request(
                "answer", "POST", f"{home}q/{position}/", {"item": item, "choice": choice}
            )
            expect(status, (303,), f"answer {position}")
            p.acknowledged[position] = choice  # the redirect to what comes next: "saved"
            match = NEXT.search(urlsplit(headers["location"]).path)
            position = int(match.group(1)) if match else None
        status, _, page = browser.request("finish", "GET", f"{home}finish/")
        expect(status, (200,), "finish")
        p.finished = b"/mturk/externalSubmit" in page
        if not p.finished:
            raise RuntimeError("finish page without the MTurk submit form")
    except Exception as exc:  # reported; the database check finds what is missing
        p.gave_up = f"{worker}: {exc}"
    finally:
        browser.close()
    return p


# --- faults ---------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    at: float  # planned, seconds since the run started
    started: float = 0.0
    done: float = 0.0  # when the action returned (the database is up again, the signal sent)
    detail: str = ""


def _leave_postgres_running() -> None:
    """Whatever happened, the cluster is left running (a crash fault interrupted mid-way included)."""
    if not load.postgres_ready():
        load.cluster_command("start")
        load.wait_for_postgres()


def _busy_worker(gunicorn_pid: int, inflight_dir: Path, limit_s: float = 20.0) -> tuple[int, int, int]:
    """A gunicorn worker with requests in flight, one with an answer (POST) in flight if one comes
    within ``limit_s``; its pid, requests and posts in flight."""
    deadline = time.monotonic() + limit_s
    best = (0, 0, 0)
    while True:
        workers = load._children(gunicorn_pid)
        for pid in workers:
            try:
                requests, posts = map(int, (inflight_dir / str(pid)).read_text().split())
            except (OSError, ValueError):
                continue
            if posts:
                return pid, requests, posts
            if requests > best[1]:
                best = (pid, requests, posts)
        if time.monotonic() > deadline:
            return best if best[0] else ((workers[0], 0, 0) if workers else (0, 0, 0))
        time.sleep(0.002)


def inject(fault: Fault, t0: float, gunicorn_pid: int, inflight_dir: Path, down_s: float) -> None:
    time.sleep(max(0.0, t0 + fault.at - time.monotonic()))
    fault.started = time.monotonic() - t0
    if fault.kind == "restart":
        load.cluster_command("restart")
        load.wait_for_postgres()
        fault.detail = "pg_ctlcluster restart (fast shutdown)"
    elif fault.kind == "crash":
        load.cluster_command("stop", "-m", "immediate")
        time.sleep(down_s)
        load.cluster_command("start")
        load.wait_for_postgres()
        fault.detail = f"pg_ctlcluster stop -m immediate, {down_s:g} s down, start (crash recovery)"
    else:
        pid, requests, posts = _busy_worker(gunicorn_pid, inflight_dir)
        if pid:
            os.kill(pid, signal.SIGKILL)
        fault.detail = f"SIGKILL to worker {pid} with {requests} requests in flight ({posts} answers)"
    fault.done = time.monotonic() - t0
    print(
        f"  t = {fault.started:5.1f} s  {fault.kind}: {fault.detail} ({fault.done - fault.started:.2f} s)", flush=True
    )


def parse_faults(text: str) -> list[Fault]:
    faults = []
    for part in filter(None, (s.strip() for s in text.split(","))):
        kind, _, at = part.partition("@")
        try:
            seconds = float(at)
        except ValueError:
            raise ValueError(part) from None
        if kind not in FAULT_KINDS:
            raise ValueError(part)
        faults.append(Fault(kind, seconds))
    return sorted(faults, key=lambda f: f.at)


# --- checking and reporting --------------------------------------------------------------------------


def verify(slug: str, people: list[Participant], n_questions: int) -> dict:
    """What the database holds against what the participants were told."""
    from django.db import connections

    from survey.models import Answer
    from survey.models import Participant as Row

    connections.close_all()  # the restarts ended this process's connection too
    stored: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    rows = Answer.objects.filter(participant__study__slug=slug).values_list(
        "participant__worker_id", "entry__position", "position"
    )
    for worker, position, choice in rows.iterator():
        stored[worker][position].append(choice)
    lost, doubled, wrong, gaps, unacknowledged, not_finished = [], [], [], [], 0, []
    for p in people:
        mine = stored.get(p.worker, {})
        for position, choice in p.acknowledged.items():
            if position not in mine:
                lost.append(f"{p.worker} q{position}")
            elif mine[position] != [choice]:
                (doubled if len(mine[position]) > 1 else wrong).append(f"{p.worker} q{position}: {mine[position]}")
        for position, choices in mine.items():
            if position not in p.acknowledged:
                unacknowledged += 1
                if choices != [p.attempted.get(position)]:
                    wrong.append(f"{p.worker} q{position}: stored {choices}, sent {p.attempted.get(position)}")
        if sorted(mine) != list(range(1, len(mine) + 1)):
            gaps.append(f"{p.worker}: positions {sorted(mine)}")
    duplicates = load.duplicated_answers(slug)
    finished = dict(Row.objects.filter(study__slug=slug).values_list("worker_id", "status"))
    for p in people:
        if finished.get(p.worker) != "finished" or len(stored.get(p.worker, {})) != n_questions:
            not_finished.append(p.worker)
    return {
        "acknowledged_answers": sum(len(p.acknowledged) for p in people),
        "stored_answers": sum(len(c) for m in stored.values() for c in m.values()),
        "acknowledged_but_lost": len(lost),
        "stored_twice": len(doubled) + duplicates,
        "stored_with_another_choice": len(wrong),
        "stored_but_not_acknowledged": unacknowledged,
        "participants_with_a_gap": len(gaps),
        "participants_not_finished": len(not_finished),
        "examples": (lost + doubled + wrong + gaps + not_finished)[:10],
    }


def _away_causes(log: Path) -> dict[str, int]:
    """What the server logged for each 503 (config/errors.py logs the driver's message)."""
    causes: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        match = re.search(r"-> 503: the database is away \((.*)", line)
        if match:
            causes[re.sub(r"\d+", "N", match.group(1)).rstrip(")")[:120]] += 1  # the message's first line
    return dict(causes.most_common(8))


def recovery(faults: list[Fault], people: list[Participant]) -> list[dict]:
    """Per fault: the failures it caused (those that began in its window) and when the last of them
    ended in a success, seconds from the fault's start."""
    outages = [o for p in people for o in p.outages]
    failures = [f for p in people for f in p.failures]
    report = []
    for i, fault in enumerate(faults):
        end = faults[i + 1].started if i + 1 < len(faults) else float("inf")
        mine = [f for f in failures if fault.started <= f.at < end]
        ended = [stop for start, stop in outages if fault.started <= start < end]
        report.append(
            {
                "fault": fault.kind,
                "at_s": round(fault.started, 2),
                "action_s": round(fault.done - fault.started, 2),
                "detail": fault.detail,
                "failed_requests": len(mine),
                "by_kind": dict(Counter(f"{f.kind}: {f.what}" for f in mine)),
                "participants_hit": len({id(p) for p in people for o in p.outages if fault.started <= o[0] < end}),
                "recovered_after_s": round(max(ended) - fault.started, 2) if ended else 0.0,
            }
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100, help="participants (default %(default)s)")
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds per question (default %(default)s)")
    parser.add_argument("--ramp", type=float, default=10.0, help="arrivals spread over seconds (default %(default)s)")
    parser.add_argument(
        "--faults",
        default="restart@15,kill@40,crash@60",
        help="KIND@SECONDS,... with KIND one of restart, crash, kill (default %(default)s)",
    )
    parser.add_argument("--down", type=float, default=3.0, help="seconds with no database in a crash (default 3)")
    parser.add_argument("--retry-pause", type=float, default=2.0, help="seconds before a retry without Retry-After")
    parser.add_argument("--retry-pause-max", type=float, default=5.0, help="longest pause a participant makes")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request is given up as dropped")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds after which a participant gives up")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (default %(default)s)")
    parser.add_argument(
        "--database-url", default=os.environ.get("SURVEY_FAULTS_DATABASE_URL", DEFAULT_DB), help="recreated"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--failures", metavar="FILE", help="also write every failed request as CSV (at_s, kind, what)")
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc} is not KIND@SECONDS with KIND one of {', '.join(FAULT_KINDS)}")
    if args.participants < 1:
        parser.error("--participants must be at least 1")
    if not load.CLUSTER_CONF.is_dir():
        parser.error(f"no PostgreSQL cluster under {load.CLUSTER_CONF}: this benchmark restarts the local one")

    workdir = Path(tempfile.mkdtemp(prefix="survey-faults-"))
    inflight_dir = workdir / "inflight"
    inflight_dir.mkdir()
    gunicorn = None
    try:
        print(f"Setting up: database {args.database_url}, migrations, static files ...", flush=True)
        load._recreate_database(args.database_url)
        env = load._server_env(args.database_url, str(workdir / "static"))
        env["SURVEY_FAULTS_INFLIGHT_DIR"] = str(inflight_dir)
        load._manage(env, "migrate", "--noinput")
        load._manage(env, "collectstatic", "--noinput")
        load._django(args.database_url)
        from survey.testing import make_explanation_set

        slug = "faults"
        load._create_study(make_explanation_set("faults-test"), slug)
        from survey.models import Study

        n_questions = Study.objects.get(slug=slug).n_questions
        port = load._free_port()
        gunicorn = load._start_gunicorn(env, port, args.workers, args.threads, workdir / "gunicorn.log", hooks=HOOKS)
        base = f"http://127.0.0.1:{port}"
        load.warm_up(base, slug, 2 * args.workers * args.threads)
        print(
            f"gunicorn {args.workers}x{args.threads} gthread on {base}, DJANGO_DEBUG=0; {args.participants} "
            f"participants, think {args.think} s, arrivals over {args.ramp} s; faults {args.faults}",
            flush=True,
        )
        gate = threading.Barrier(args.participants + 1)
        people: list[Participant | None] = [None] * args.participants
        t0 = time.monotonic() + 0.5  # every thread starts by then

        def run(i):
            people[i] = take_survey(i, base, slug, args, t0, gate)

        threading.stack_size(512 * 1024)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.participants)]
        for t in threads:
            t.start()
        gate.wait(timeout=120)
        injector = threading.Thread(
            target=lambda: [inject(f, t0, gunicorn.pid, inflight_dir, args.down) for f in faults]
        )
        injector.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        injector.join()
        done = [p for p in people if p is not None]
        checks = verify(slug, done, n_questions)
        failures = [f for p in done for f in p.failures]
        longest = [max((b - a for a, b in p.outages), default=0.0) for p in done]
        hit = [x for x in longest if x > 0]
        report = {
            "participants": args.participants,
            "questions": n_questions,
            "think_s": args.think,
            "server": f"gunicorn {args.workers}x{args.threads} gthread, PostgreSQL, DJANGO_DEBUG=0",
            "cpus": os.cpu_count(),
            "wall_s": round(wall, 1),
            "requests": sum(p.requests for p in done),
            "faults": recovery(faults, done),
            "errors_seen_by_participants": len(failures),
            "errors_by_kind": dict(Counter(f.what for f in failures)),
            "error_pages_with_retry_after": sum(1 for f in failures if f.retry_after),
            "http_500": sum(1 for f in failures if f.what.startswith("HTTP 500")),
            "tracebacks_shown": sum(1 for f in failures if "traceback" in f.what),
            "participants_who_met_an_error": len(hit),
            "longest_outage_s": {
                "max": round(max(longest, default=0.0), 2),
                "median_of_those_hit": round(statistics.median(hit), 2) if hit else 0.0,
            },
            "gave_up": [p.gave_up for p in done if p.gave_up][:10],
            "server_503_causes": _away_causes(workdir / "gunicorn.log"),
            "database": checks,
        }
        ok = (
            checks["acknowledged_but_lost"] == 0
            and checks["stored_twice"] == 0
            and checks["stored_with_another_choice"] == 0
            and checks["participants_with_a_gap"] == 0
            and checks["participants_not_finished"] == 0
            and report["http_500"] == 0
            and not report["gave_up"]
        )
        report["verdict"] = (
            "0 acknowledged answers lost or doubled; every participant finished"
            if ok
            else "FAILED: see database, gave_up and http_500"
        )
        print(json.dumps(report, indent=2), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        if args.failures:
            rows = sorted((f.at, f.kind, f.what, p.worker) for p in done for f in p.failures)
            lines = ["at_s,kind,what,worker", *(f"{at:.3f},{kind},{what},{worker}" for at, kind, what, worker in rows)]
            Path(args.failures).write_text("\n".join(lines) + "\n")
        return 0 if ok else 1
    finally:
        if gunicorn is not None:
            load._stop(gunicorn)
        _leave_postgres_running()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
