#!/usr/bin/env python
"""CPU per participant request in process (django.test.Client, production settings, PostgreSQL), by kind.

    .venv/bin/python benchmarks/participant_cpu.py --setup -n 20          # recreates database cpu_prof
    .venv/bin/python benchmarks/participant_cpu.py -n 20 --profile answer  # cProfile (CPU clock) of one kind

Prints thread CPU per request kind and per start (landing + consent + instructions) and per
answer (question page, its pictures, the answer, the finish page shared out), without gunicorn:
a same-load before/after comparison of the views and services alone.
"""

import argparse
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.getcwd())
ap = argparse.ArgumentParser()
ap.add_argument("--db", default="cpu_prof")
ap.add_argument("-n", type=int, default=20)
ap.add_argument("--profile", default="")
ap.add_argument("--setup", action="store_true")
a = ap.parse_args()
url = f"postgres://postgres@127.0.0.1:5432/{a.db}"
os.environ.update(
    DJANGO_DEBUG="0",
    DJANGO_SECRET_KEY="x" * 50,
    DJANGO_ALLOWED_HOSTS="testserver",
    DJANGO_SECURE_SSL_REDIRECT="0",
    DATABASE_URL=url,
    DJANGO_SETTINGS_MODULE="config.settings",
    DJANGO_LOG_LEVEL="WARNING",
    DJANGO_STATIC_ROOT=os.path.join(tempfile.gettempdir(), "participant_cpu_static"),
)
if a.setup:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{a.db}"')
import django

django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client

if a.setup or not (settings.STATIC_ROOT / "staticfiles.json").exists():
    call_command("collectstatic", "--noinput", verbosity=0)
if a.setup:
    call_command("migrate", verbosity=0)
    from survey.testing import make_explanation_set, make_study

    make_study(make_explanation_set("prof"), slug="prof")
import logging

logging.disable(logging.WARNING)
ITEM = re.compile(rb'name="item" value="(\d+)"')
IMAGE = re.compile(rb'<img[^>]*\ssrc="(/[^"]*)"')  # pictures served apart; today's are in the page (data: URLs)
cpu = defaultdict(float)
cnt = defaultdict(int)
import cProfile
import pstats

prof = cProfile.Profile(time.thread_time) if a.profile else None


def req(kind, fn, *args, **kw):
    on = prof is not None and a.profile in (kind, "all")
    t = time.thread_time()
    if on:
        prof.enable()
    r = fn(*args, **kw)
    if on:
        prof.disable()
    cpu[kind] += time.thread_time() - t
    cnt[kind] += 1
    return r


run = secrets.token_hex(3)
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
HANDLER = Client().handler


def participant(i):
    c = Client(HTTP_USER_AGENT="prof")
    c.handler = HANDLER
    p = {
        "assignmentId": f"A{run}{i}",
        "hitId": "H",
        "workerId": f"W{run}{i}",
        "turkSubmitTo": "https://workersandbox.mturk.com",
    }
    r = req("landing", c.get, "/s/prof/", p)
    assert r.status_code == 200, r.status_code
    r = req("start", c.post, "/s/prof/start/", urlencode({**p, "consent": "on"}), content_type=FORM)
    assert r.status_code == 303, r.content
    home = r["Location"]
    r = req("instructions", c.get, home)
    assert r.status_code == 200
    pos = 1
    rng = random.Random(i)
    while pos:
        r = req("question", c.get, f"{home}q/{pos}/")
        assert r.status_code == 200, r.status_code
        for src in IMAGE.findall(r.content):
            rr = req("image", c.get, src.decode())
            assert rr.status_code == 200
        item = int(ITEM.search(r.content).group(1))
        ch = rng.randint(1, 4)
        r = req("answer", c.post, f"{home}q/{pos}/", f"item={item}&choice={ch}", content_type=FORM)
        assert r.status_code == 303
        if rng.random() < 0.05:
            r2 = req("answer", c.post, f"{home}q/{pos}/", f"item={item}&choice={ch % 4 + 1}", content_type=FORM)
            assert r2.status_code == 303
        m = re.search(r"/q/(\d+)/$", r["Location"])
        pos = int(m.group(1)) if m else None
    r = req("finish", c.get, f"{home}finish/")
    assert r.status_code == 200


participant(-1)  # warm
cpu.clear()
cnt.clear()
if prof:
    prof = cProfile.Profile(time.thread_time)
for i in range(a.n):
    participant(i)
for k in cpu:
    print(f"{k:13s} {cnt[k]:6d} {1000 * cpu[k] / cnt[k]:7.2f} ms")
start = sum(cpu[k] for k in ("landing", "start", "instructions")) / a.n
ans = sum(cpu[k] for k in ("question", "answer", "image", "finish")) / (25 * a.n)
print(f"per start {1000 * start:.2f} ms   per answer {1000 * ans:.2f} ms   load {os.getloadavg()[0]:.1f}")
if prof:
    prof.dump_stats(os.path.join(tempfile.gettempdir(), "participant_cpu.prof"))
    s = pstats.Stats(prof)
    s.sort_stats("cumulative").print_stats(45)
