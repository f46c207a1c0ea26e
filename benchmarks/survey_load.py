#!/usr/bin/env python
"""Load benchmark of the survey: N simulated MTurk workers complete it at once over HTTP.

By default the script sets up the production stack on 127.0.0.1 by itself: a fresh PostgreSQL
database, migrations, collectstatic, a study of random maps, and gunicorn with DJANGO_DEBUG=0.
With --url it drives a server you started (then --study and --database-url say where the
study and its database are).

Each participant is a thread with its own keep-alive connection that walks the real pages:
landing, consent, instructions, then for each of the 25 questions GET the page (and, with
--images, any pictures served apart and not yet in its "browser cache": today the
pictures are in the page as data: URLs, see survey/pictures.py), think, POST the answer; a share of the
answers is posted twice (double submits). At the end the database is checked: every answer sent
is stored exactly once, with the choice that was sent first.

    .venv/bin/python benchmarks/survey_load.py --participants 200
    .venv/bin/python benchmarks/survey_load.py --participants 200 --think 2

Reports answers per second, p50/p95/p99 latency (answer POSTs, question GETs, all requests), and
the server's CPU time: gunicorn's per start (landing + consent + instructions) and per answer
(its question page, pictures and post), measured by the workers themselves for each request
(benchmarks/survey_load_gunicorn.py), so they hold even when other programs share the cores;
PostgreSQL's (every process of the local cluster, sampled), split per start and per answer by
regression; the database's commits, WAL syncs and rows read by sequential scans per answer; and
with --statements its statements per answer (pg_stat_statements).

How many participants a server holds: --capacity runs the given counts in turn, each on a fresh
gunicorn and study, and reports the largest whose answer p95 stays under --p95-limit (100 ms):

    .venv/bin/python benchmarks/survey_load.py --capacity 250,500,750,1000,1250 --think 5 --ramp 30
Needs only the standard library and the project's own requirements.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/survey_load"
SANDBOX = "https://workersandbox.mturk.com"
ITEM = re.compile(rb'name="item" value="(\d+)"')
IMAGE = re.compile(rb'<img[^>]*\ssrc="(/[^"]*)"')  # pictures served apart; today's are in the page (data: URLs)
HOOKS = Path(__file__).resolve().parent / "survey_load_gunicorn.py"
START_KINDS = ("landing", "start", "instructions")  # a participant's way in: "per start"
ANSWER_KINDS = ("question", "answer", "image", "finish")  # the rest, with its pages and pictures: "per answer"


# --- setting up the production stack ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and _")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _server_env(database_url: str, static_root: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",  # plain http on the loopback; TLS ends at the proxy in production
        DATABASE_URL=database_url,
        DJANGO_STATIC_ROOT=static_root,
        DJANGO_LOG_LEVEL=os.environ.get("DJANGO_LOG_LEVEL", "WARNING"),
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )


def _django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # this process only writes the study; the server runs with DEBUG off
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _create_study(explanation_set, slug: str) -> None:
    from survey.testing import make_study

    make_study(explanation_set, slug=slug)


def _start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int, log: Path, hooks: Path = HOOKS
) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--preload",
        "--log-level",
        "warning",
        "--config",
        str(hooks),  # each worker adds up its requests' CPU time by kind (X-Load-Kind)
    ]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 30 s")


def warm_up(base: str, slug: str, connections: int, limit_s: float = 120.0) -> None:
    """Warm every gunicorn worker (lazy imports, URLconf, templates, database connections).

    A worker's first request imports the URLconf, which pulls in heavy modules (seconds), and
    a gthread worker may accept many connections at once, so rounds of simultaneous requests
    repeat until one round is fast. Production servers are warm long before participants
    arrive, so this is not measured. It only reads (a direct-link landing page).
    """
    parts = urlsplit(base)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        times: list[float] = []

        def hit():
            start = time.perf_counter()
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=120)
            conn.request("GET", f"/s/{slug}/", headers={"Host": "127.0.0.1"})
            conn.getresponse().read()
            conn.close()
            times.append(time.perf_counter() - start)

        threads = [threading.Thread(target=hit) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if max(times) < 1.0:
            return
    print(f"warning: the server was still slow after {limit_s:.0f} s of warming up", flush=True)


# --- CPU accounting (independent of what else the machine is doing) -------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def client_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- PostgreSQL's side: its CPU (all its processes) and, with --statements, where the time goes ----

CLUSTER_CONF = Path("/etc/postgresql")


def postmaster_pid() -> int | None:
    """The PostgreSQL server process this script's database connection is served by (its parent);
    None when the server runs on another machine (--url with a remote database): its CPU is not
    measured then."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


class CpuSampler(threading.Thread):
    """Samples the CPU seconds of gunicorn's processes and of every PostgreSQL process a few times a
    second, so that backends which come and go (connections are closed after CONN_MAX_AGE) are
    counted too, and keeps the series to split the CPU between starts and answers afterwards."""

    def __init__(self, gunicorn_pid: int | None, postmaster: int | None, interval: float = 0.25):
        super().__init__(daemon=True)
        self.gunicorn_pid, self.postmaster, self.interval = gunicorn_pid, postmaster, interval
        self.series: list[tuple[float, float, float]] = []  # (monotonic, gunicorn s, postgres s)
        self._last: dict[str, dict[int, float]] = {"gunicorn": {}, "postgres": {}}
        self._base: dict[str, float] = {"gunicorn": 0.0, "postgres": 0.0}
        self._done = threading.Event()
        self._sample()  # the processes' CPU so far is the baseline
        self._base = {k: sum(v.values()) for k, v in self._last.items()}

    def _tree(self, kind: str) -> list[int]:
        root = self.gunicorn_pid if kind == "gunicorn" else self.postmaster
        return [root, *_children(root)] if root else []

    def _sample(self) -> None:
        now = time.monotonic()
        for kind in ("gunicorn", "postgres"):
            for pid in self._tree(kind):
                cpu = _process_cpu(pid)
                if cpu:  # a process that is gone keeps its last reading
                    self._last[kind][pid] = cpu
        self.series.append((now, self.total("gunicorn"), self.total("postgres")))

    def total(self, kind: str) -> float:
        return sum(self._last[kind].values()) - self._base[kind]

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self._sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self._sample()


def split_by_regression(series, starts: list[float], answers: list[float], column: int, width: float = 2.0) -> dict:
    """CPU per start and per answer from the time series: the CPU of each ``width``-second window
    regressed (non-negative least squares, with a constant for idle work) on the starts and
    answers accepted in it. For gunicorn this is a check against its own exact split."""
    import numpy as np
    from scipy.optimize import nnls

    if len(series) < 4 or not answers:
        return {}
    t0, t1 = series[0][0], series[-1][0]
    edges = np.arange(t0, t1 + width, width)
    times = np.array([row[0] for row in series])
    cpu = np.interp(edges, times, np.array([row[column] for row in series]))
    y = np.diff(cpu)
    n_starts = np.histogram(starts, bins=edges)[0]
    n_answers = np.histogram(answers, bins=edges)[0]
    design = np.column_stack([n_starts, n_answers, np.full(len(y), width)])
    coef, _ = nnls(design.astype(float), y)
    return {
        "per_start": round(1000 * coef[0], 2),
        "per_answer": round(1000 * coef[1], 2),
        "idle_per_s": round(1000 * coef[2], 2),
        "windows": len(y),
    }


def cluster_command(*action: str) -> None:
    """pg_ctlcluster on the newest local cluster (root or the postgres user)."""
    versions = sorted(os.listdir(CLUSTER_CONF)) if CLUSTER_CONF.is_dir() else []
    if not versions:
        raise SystemExit(f"no PostgreSQL cluster under {CLUSTER_CONF}")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", *action], check=True, capture_output=True
    )


def postgres_ready() -> bool:
    """Whether the local cluster accepts connections (pg_isready)."""
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def wait_for_postgres(limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if postgres_ready():
            return
        time.sleep(0.1)
    raise SystemExit(f"PostgreSQL did not come back within {limit_s:.0f} s")


def _admin(database_url: str):
    import psycopg

    return psycopg.connect(urlsplit(database_url)._replace(path="/postgres").geturl(), autocommit=True)


def enable_statements(database_url: str) -> bool:
    """Load pg_stat_statements (a restart, when it is not loaded yet); True when this script loaded it."""
    with _admin(database_url) as conn:
        loaded = "pg_stat_statements" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if not loaded:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    if not loaded:
        print("Loading pg_stat_statements: restarting PostgreSQL (undone at the end) ...", flush=True)
        cluster_command("restart")
        wait_for_postgres()
    with _admin(database_url) as conn:  # planning time too (a setting of the library, known once it is loaded)
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        conn.execute("SELECT pg_reload_conf()")
    return not loaded


def disable_statements(database_url: str) -> None:
    with _admin(database_url) as conn:
        conn.execute("ALTER SYSTEM RESET shared_preload_libraries")
        conn.execute("ALTER SYSTEM RESET pg_stat_statements.track_planning")
    cluster_command("restart")
    wait_for_postgres()


def database_counters() -> dict[str, float]:
    """This database's commits, and the cluster's WAL records, bytes and syncs, so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        commits, rollbacks = cursor.fetchone()
        cursor.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal")
        records, wal_bytes, syncs = cursor.fetchone()
        cursor.execute("SELECT coalesce(sum(seq_scan), 0), coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables")
        seq_scans, seq_rows = cursor.fetchone()
    values = (commits, rollbacks, records, wal_bytes, syncs, seq_scans, seq_rows)
    names = ("commits", "rollbacks", "wal_records", "wal_bytes", "wal_syncs", "seq_scans", "seq_rows_read")
    return {name: float(value) for name, value in zip(names, values)}  # some are numeric (Decimal)


def reset_statements() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute("SELECT pg_stat_statements_reset()")


def statement_table(answers: int, top: int = 12) -> list[dict]:
    """The statements this database ran, the costliest first: calls and time per answer."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT calls, total_exec_time, total_plan_time, rows, shared_blks_hit + shared_blks_read, query "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() ORDER BY total_exec_time + total_plan_time DESC"
        )
        rows = cursor.fetchall()
    table = []
    for calls, exec_ms, plan_ms, n_rows, blocks, query in rows:
        calls = max(calls, 1)  # a statement planned and never run has 0 calls
        table.append(
            {
                "calls_per_answer": round(calls / max(answers, 1), 2),
                "ms_per_answer": round((exec_ms + plan_ms) / max(answers, 1), 3),
                "mean_exec_ms": round(exec_ms / calls, 3),
                "mean_plan_ms": round(plan_ms / calls, 3),
                "rows_per_call": round(n_rows / calls, 1),
                "blocks_per_call": round(blocks / calls, 1),
                "query": " ".join(query.split())[:160],
            }
        )
    total = {
        "statements_per_answer": round(sum(r[0] for r in rows) / max(answers, 1), 2),
        "ms_per_answer": round(sum(r[1] + r[2] for r in rows) / max(answers, 1), 3),
    }
    return [total, *table[:top]]


# --- simulated participants ---------------------------------------------------------------------


@dataclass
class Result:
    worker: str
    sent: dict[int, int] = field(default_factory=dict)  # position -> choice sent first
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    answers_posted: int = 0
    started_at: float | None = None  # time.monotonic() when the start was accepted
    answered_at: list[float] = field(default_factory=list)  # when each answer was accepted


class Browser:
    """One participant's keep-alive connection, timing every request."""

    def __init__(self, host: str, port: int, result: Result):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.result = result

    def request(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, bytes]:
        data = urlencode(body).encode() if body is not None else None
        headers = {"User-Agent": "survey-load/1.0", "Host": "127.0.0.1", "X-Load-Kind": kind}
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed a kept-alive connection: reconnect once
                if attempt == 2:
                    raise
        self.result.timings[kind].append(time.perf_counter() - start)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content


def participant(
    index: int,
    base: str,
    slug: str,
    think: float,
    double_share: float,
    images: bool,
    start_gate: threading.Barrier,
    delay: float = 0.0,
    run: str = "",
) -> Result:
    parts = urlsplit(base)
    worker = f"LOADWORKER{run}{index:05d}"
    result = Result(worker=worker)
    rng = random.Random(index)
    browser = Browser(parts.hostname, parts.port or 80, result)
    seen_images: set[str] = set()
    params = {
        "assignmentId": f"LOADASSIGN{run}{index:05d}",
        "hitId": "LOADHIT",
        "workerId": worker,
        "turkSubmitTo": SANDBOX,
    }

    def expect(status, wanted, what):
        if status != wanted:
            raise RuntimeError(f"{what}: HTTP {status}, expected {wanted}")

    def pause():
        if think:
            time.sleep(rng.uniform(0.5 * think, 1.5 * think))

    try:
        start_gate.wait(timeout=120)
        time.sleep(delay)  # --ramp: arrivals spread out instead of all in the same instant
        status, _, _ = browser.request("landing", "GET", f"/s/{slug}/?{urlencode(params)}")
        expect(status, 200, "landing")
        status, headers, _ = browser.request("start", "POST", f"/s/{slug}/start/", {**params, "consent": "on"})
        expect(status, 303, "start")
        result.started_at = time.monotonic()
        home = urlsplit(headers["location"]).path
        status, _, _ = browser.request("instructions", "GET", home)
        expect(status, 200, "instructions")
        position = 1
        while position is not None:
            status, _, page = browser.request("question", "GET", f"{home}q/{position}/")
            expect(status, 200, f"question {position}")
            if images:
                for src in IMAGE.findall(page):
                    key = src.decode()
                    if key not in seen_images:  # the browser cache keeps pictures it has seen
                        seen_images.add(key)
                        status, _, _ = browser.request("image", "GET", key)
                        expect(status, 200, "image")
            item = int(ITEM.search(page).group(1))
            choice = rng.randint(1, 4)
            pause()
            status, headers, _ = browser.request(
                "answer", "POST", f"{home}q/{position}/", {"item": item, "choice": choice}
            )
            expect(status, 303, f"answer {position}")
            result.answered_at.append(time.monotonic())
            result.sent[position] = choice
            result.answers_posted += 1
            if rng.random() < double_share:  # a double submit, with another choice: must change nothing
                status, _, _ = browser.request(
                    "answer", "POST", f"{home}q/{position}/", {"item": item, "choice": choice % 4 + 1}
                )
                expect(status, 303, f"repeated answer {position}")
                result.answers_posted += 1
            location = urlsplit(headers["location"]).path
            match = re.search(r"/q/(\d+)/$", location)
            position = int(match.group(1)) if match else None
        status, _, page = browser.request("finish", "GET", f"{home}finish/")
        expect(status, 200, "finish")
        if b"/mturk/externalSubmit" not in page:
            raise RuntimeError("finish page without the MTurk submit form")
    except Exception as exc:  # reported, and the check below finds what is missing
        result.errors.append(f"{worker}: {exc}")
    finally:
        browser.conn.close()
    return result


# --- checking and reporting ------------------------------------------------------------------------


def duplicated_answers(slug: str) -> int:
    """How many (participant, item) pairs of the study have more than one answer (the database's
    constraint forbids it; counted all the same, as the check of what it promises)."""
    from django.db.models import Count

    from survey.models import Answer

    return (
        Answer.objects.filter(participant__study__slug=slug)
        .values("participant_id", "item_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


def verify(slug: str, results: list[Result]) -> list[str]:
    """Every answer sent is stored exactly once, with the first choice; nothing else is stored."""

    from survey.models import Answer, Participant

    problems = []
    stored: dict[str, dict[int, int]] = defaultdict(dict)
    rows = Answer.objects.filter(participant__study__slug=slug).values_list(
        "participant__worker_id", "entry__position", "position"
    )
    count = 0
    for worker, position, choice in rows.iterator():
        stored[worker][position] = choice
        count += 1
    sent = sum(len(r.sent) for r in results)
    if count != sent:
        problems.append(f"{count} answers stored for {sent} sent")
    for r in results:
        if stored.get(r.worker, {}) != r.sent:
            problems.append(
                f"{r.worker}: stored {len(stored.get(r.worker, {}))} answers differ from the {len(r.sent)} sent"
            )
    duplicates = duplicated_answers(slug)
    if duplicates:
        problems.append(f"{duplicates} duplicated answers")
    finished = Participant.objects.filter(study__slug=slug, status="finished").count()
    complete = sum(1 for r in results if len(r.sent) == 25 and not r.errors)
    if finished != complete:
        problems.append(f"{finished} participants finished, {complete} completed the survey")
    return problems


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    values = sorted(values)

    def pct(p):
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))] * 1000

    return {
        "n": len(values),
        "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(values[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


def split_cpu(worker_sums: list[dict], gunicorn_s: float, participants: int, answers: int) -> dict:
    """Gunicorn CPU per start (landing, consent, instructions) and per answer (its page, pictures, post).

    The workers' hooks measure each request's own CPU time by kind; what gunicorn spent outside
    requests (accepting and parsing connections, main loops, the master) is shared out in
    proportion to the number of requests.
    """
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for sums in worker_sums:
        for kind, value in sums["cpu_s"].items():
            cpu[kind] += value
        for kind, value in sums["requests"].items():
            count[kind] += value
    kinds = START_KINDS + ANSWER_KINDS
    in_requests = sum(cpu[k] for k in kinds)
    n_requests = sum(count[k] for k in kinds)
    outside = max(0.0, gunicorn_s - in_requests)

    def share(group):
        own = sum(cpu[k] for k in group)
        return own + outside * sum(count[k] for k in group) / max(n_requests, 1)

    return {
        "per_start": round(1000 * share(START_KINDS) / max(participants, 1), 2),
        "per_answer": round(1000 * share(ANSWER_KINDS) / max(answers, 1), 2),
        "per_request_by_kind": {k: round(1000 * cpu[k] / count[k], 2) for k in kinds if count[k]},
        "outside_requests_share": round(outside / max(gunicorn_s, 1e-9), 3),
    }


def run_step(
    args, base: str, slug: str, participants: int, gunicorn: subprocess.Popen | None, cpu_dir: Path | None
) -> dict:
    """``participants`` simulated workers take study ``slug`` at once; the report of that run."""
    warm_up(base, slug, 2 * args.workers * args.threads)
    gate = threading.Barrier(participants)
    results: list[Result | None] = [None] * participants

    def run(i):
        delay = args.ramp * i / participants
        results[i] = participant(
            i, base, slug, args.think, args.double_submit, args.images, gate, delay, run=f"{participants}X"
        )  # assignment ids are unique across studies

    threading.stack_size(512 * 1024)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(participants)]
    print(
        f"Running {participants} participants at once (arrivals over {args.ramp} s, think {args.think} s, "
        f"{args.double_submit:.0%} double submits, images {'on' if args.images else 'off'}) ...",
        flush=True,
    )
    if args.statements:
        reset_statements()
    counters_before = database_counters()
    sampler = CpuSampler(gunicorn.pid if gunicorn else None, postmaster_pid())
    client_before = client_cpu()
    load_before = os.getloadavg()
    started = time.perf_counter()
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    sampler.stop()
    client_used = client_cpu() - client_before
    load_after = os.getloadavg()
    counters_after = database_counters()
    # Every PostgreSQL process (its backends, the WAL writer, the checkpointer...), sampled while
    # it lived: the database's whole cost, as a server's CPU would show it.
    cpu_used = {"postgres": sampler.total("postgres")} if sampler.postmaster else {}
    if gunicorn is not None:
        cpu_used["gunicorn"] = sampler.total("gunicorn")
    cpu_used["client (this script)"] = client_used
    split = None
    if gunicorn is not None:
        _stop(gunicorn)  # the workers write their per-kind CPU sums as they exit
    done = [r for r in results if r is not None]

    timings: dict[str, list[float]] = defaultdict(list)
    for r in done:
        for kind, values in r.timings.items():
            timings[kind].extend(values)
    answers = sum(len(r.sent) for r in done)
    if gunicorn is not None and cpu_dir is not None:
        sums = [json.loads(f.read_text()) for f in cpu_dir.glob("*.json")]
        split = split_cpu(sums, cpu_used.get("gunicorn", 0.0), participants, answers) if sums else None
        for f in cpu_dir.glob("*.json"):
            f.unlink()
    posted = sum(r.answers_posted for r in done)
    every = [v for values in timings.values() for v in values]
    errors = [e for r in done for e in r.errors]
    problems = verify(slug, done)
    starts_at = [r.started_at for r in done if r.started_at is not None]
    answers_at = [t for r in done for t in r.answered_at]
    regression = {
        "postgres": split_by_regression(sampler.series, starts_at, answers_at, column=2)
        if sampler.postmaster
        else "not measured (the database is on another machine)",
        "gunicorn (check against its own split above)": split_by_regression(
            sampler.series, starts_at, answers_at, column=1
        ),
    }
    database = {
        k + "_per_answer": round((counters_after[k] - counters_before[k]) / max(answers, 1), 2) for k in counters_after
    }
    statements = statement_table(answers) if args.statements else "not measured (--statements)"
    return {
        "participants": participants,
        "cpus": os.cpu_count(),
        "server": "external " + base if args.url else f"gunicorn {args.workers}x{args.threads} gthread, PostgreSQL",
        "think_s": args.think,
        "ramp_s": args.ramp,
        "wall_s": round(wall, 2),
        "answers_stored_expected": answers,
        "answer_posts": posted,
        "answers_per_s": round(answers / wall, 1),
        "requests": len(every),
        "requests_per_s": round(len(every) / wall, 1),
        "latency": {
            "answer_post": percentiles(timings["answer"]),
            "question_get": percentiles(timings["question"]),
            "image_get": percentiles(timings["image"]),
            "landing_get": percentiles(timings["landing"]),
            "start_post": percentiles(timings["start"]),
            "instructions_get": percentiles(timings["instructions"]),
            "finish_get": percentiles(timings["finish"]),
            "all": percentiles(every),
        },
        "cpu_s": {k: round(v, 1) for k, v in cpu_used.items()},
        "cpu_ms_per_answer": {k: round(1000 * v / max(answers, 1), 1) for k, v in cpu_used.items()},
        # gunicorn's CPU split: a participant's way in (landing + consent + instructions) and each answer
        "gunicorn_cpu_ms": split or "not measured (external server)",
        # PostgreSQL's CPU per start and per answer, from the CPU series (its processes do not say
        # which request they served)
        "cpu_ms_split_by_regression": regression,
        "database": database,
        "statements": statements,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "errors": errors[:20],
        "n_errors": len(errors),
        "verification": problems or "every answer sent is stored exactly once",
    }


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=200, help="simultaneous participants (default %(default)s)")
    parser.add_argument(
        "--capacity",
        metavar="N,N,...",
        help="instead of one run, run these participant counts in turn (a fresh server and study "
        "each) until answer p95 reaches --p95-limit; reports the largest count held",
    )
    parser.add_argument(
        "--p95-limit", type=float, default=100.0, help="answer p95 in ms that --capacity allows (default %(default)s)"
    )
    parser.add_argument(
        "--url", help="drive this running server instead of starting gunicorn (e.g. http://127.0.0.1:8000)"
    )
    parser.add_argument("--study", default="load", help="study slug (default %(default)s; created unless --url)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SURVEY_LOAD_DATABASE_URL", DEFAULT_DB),
        help="PostgreSQL database (recreated unless --url; default %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default %(default)s)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a participant looks at a question before answering (default 0: no pause)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="spread the participants' arrivals evenly over this many seconds (default 0: all at once)",
    )
    parser.add_argument(
        "--double-submit", type=float, default=0.05, help="share of answers posted twice (default %(default)s)"
    )
    parser.add_argument(
        "--images",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also fetch each question's pictures once per participant (default: yes)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="also report PostgreSQL's statements per answer with pg_stat_statements (loaded for the run "
        "by a restart of the local cluster, and unloaded after; needs root or the postgres user)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = parser.parse_args(argv)
    if args.participants < 1:
        parser.error("--participants must be at least 1")
    try:
        steps = [int(n) for n in args.capacity.split(",")] if args.capacity else [args.participants]
    except ValueError:
        parser.error("--capacity: give participant counts separated by commas, e.g. 250,500,1000")
    if args.capacity and args.url:
        parser.error("--capacity starts its own servers: leave out --url")

    gunicorn = None
    loaded_statements = enable_statements(args.database_url) if args.statements else False
    workdir = Path(tempfile.mkdtemp(prefix="survey-load-"))
    cpu_dir = workdir / "cpu"
    cpu_dir.mkdir()
    reports = []
    try:
        if args.url:
            _django(args.database_url)
            reports.append(run_step(args, args.url.rstrip("/"), args.study, args.participants, None, None))
        else:
            print(f"Setting up: database {args.database_url}, migrations, static files ...", flush=True)
            _recreate_database(args.database_url)
            env = _server_env(args.database_url, str(workdir / "static"))
            env["SURVEY_LOAD_CPU_DIR"] = str(cpu_dir)
            _manage(env, "migrate", "--noinput")
            _manage(env, "collectstatic", "--noinput")
            _django(args.database_url)
            from survey.testing import make_explanation_set

            explanation_set = make_explanation_set("load-test")
            for n in steps:
                slug = args.study if len(steps) == 1 else f"{args.study}-{n}"
                _create_study(explanation_set, slug)
                port = _free_port()
                gunicorn = _start_gunicorn(env, port, args.workers, args.threads, workdir / "gunicorn.log")
                base = f"http://127.0.0.1:{port}"
                print(
                    f"gunicorn: {args.workers} workers x {args.threads} threads (gthread) on {base}, DJANGO_DEBUG=0",
                    flush=True,
                )
                report = run_step(args, base, slug, n, gunicorn, cpu_dir)
                gunicorn = None
                reports.append(report)
                print(json.dumps(report, indent=2), flush=True)
                p95 = report["latency"]["answer_post"].get("p95_ms", float("inf"))
                if args.capacity and (
                    p95 >= args.p95_limit
                    or report["n_errors"]
                    or report["verification"] != "every answer sent is stored exactly once"
                ):
                    break
        if args.capacity:
            held = [
                r
                for r in reports
                if r["latency"]["answer_post"].get("p95_ms", float("inf")) < args.p95_limit
                and not r["n_errors"]
                and not isinstance(r["verification"], list)
            ]
            summary = {
                "think_s": args.think,
                "ramp_s": args.ramp,
                "p95_limit_ms": args.p95_limit,
                "cpus": os.cpu_count(),
                "steps": [
                    {
                        "participants": r["participants"],
                        "answer_p95_ms": r["latency"]["answer_post"].get("p95_ms"),
                        "start_p95_ms": r["latency"]["start_post"].get("p95_ms"),
                        "answers_per_s": r["answers_per_s"],
                        "gunicorn_cpu_ms": r["gunicorn_cpu_ms"],
                        "cpu_ms_per_answer": r["cpu_ms_per_answer"],
                        "postgres_cpu_ms": r["cpu_ms_split_by_regression"]["postgres"],
                        "cpu_s": r["cpu_s"],
                        "load_average_after": r["load_average_after"],
                        "n_errors": r["n_errors"],
                    }
                    for r in reports
                ],
                "held": max((r["participants"] for r in held), default=0),
            }
            print(json.dumps(summary, indent=2))
            output = {"capacity": summary, "runs": reports}
        else:
            if args.url:
                print(json.dumps(reports[0], indent=2))
            output = reports[0]
        if args.json:
            Path(args.json).write_text(json.dumps(output, indent=2) + "\n")
        failed = [r for r in reports if r["n_errors"] or isinstance(r["verification"], list)]
        return 1 if failed and not args.capacity else 0
    finally:
        if gunicorn is not None:
            _stop(gunicorn)
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)
        if loaded_statements:
            disable_statements(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
