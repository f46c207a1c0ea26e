"""The demo's background KAR run: started once, never twice, at a lower priority, detached."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management.base import OutputWrapper

from kar import demo as kar_demo
from kar.core.store import MANIFEST, MANIFEST_KIND, write_json_atomic


class FakePopen:
    """Starts a harmless sleeping process whose command line names run_kar, and records the call."""

    def __init__(self):
        self.calls: list[tuple[list[str], dict]] = []
        self.processes: list[subprocess.Popen] = []

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)", "run_kar"], start_new_session=True
        )
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            process.kill()
            process.wait()


@pytest.fixture
def fake_popen():
    fake = FakePopen()
    yield fake
    fake.stop()


def test_it_starts_the_run_once_detached_and_says_so(tmp_path, fake_popen):
    text = StringIO()
    out = OutputWrapper(text)  # as a command's stdout: one line per write
    assert kar_demo.ensure_started(tmp_path, "default", out, popen=fake_popen) == "started"
    assert kar_demo.ensure_started(tmp_path, "default", out, popen=fake_popen) == "running"
    assert len(fake_popen.calls) == 1
    args, kwargs = fake_popen.calls[0]
    assert args[1].endswith("manage.py") and args[2] == "run_kar"
    assert args[args.index("--out") + 1] == str(tmp_path / kar_demo.NAME)
    assert args[args.index("--explanations") + 1] == "default"
    assert args[args.index("--label") + 1] == kar_demo.LABEL and "Small demo run" in kar_demo.LABEL
    assert kwargs["start_new_session"] is True and kwargs["stdin"] == subprocess.DEVNULL
    pid = fake_popen.processes[0].pid
    assert (tmp_path / kar_demo.NAME / kar_demo.PID_FILE).read_text().strip() == str(pid)
    lines = text.getvalue().splitlines()
    assert lines[0].startswith(f"KAR demo run: started in the background (pid {pid}")
    assert lines[1].startswith(f"KAR demo run: still running in the background (pid {pid}")


def write_manifest(root, *statuses: str) -> None:
    folder = root / kar_demo.NAME
    folder.mkdir(exist_ok=True)
    write_json_atomic(folder / MANIFEST, {"kind": MANIFEST_KIND, "sessions": [{"status": s} for s in statuses]})


def test_a_finished_run_is_not_started_again(tmp_path, fake_popen):
    write_manifest(tmp_path, "interrupted", "complete")  # resumed once, then completed
    out = StringIO()
    assert kar_demo.ensure_started(tmp_path, "default", out, popen=fake_popen) == "finished"
    assert fake_popen.calls == [] and out.getvalue().startswith("KAR demo run: finished earlier")


@pytest.mark.parametrize("statuses", [("interrupted",), ("complete", "incomplete"), ()])
def test_a_run_that_stopped_half_way_is_not_finished(tmp_path, statuses):
    write_manifest(tmp_path, *statuses)
    assert not kar_demo.finished(tmp_path)
    (tmp_path / kar_demo.NAME / MANIFEST).write_text("{not json")
    assert not kar_demo.finished(tmp_path)


def test_it_reads_the_manifest_that_run_kar_writes():
    assert kar_demo.RUN_MANIFEST == MANIFEST


def test_a_run_whose_process_has_ended_is_started_again_to_resume(tmp_path, fake_popen):
    kar_demo.ensure_started(tmp_path, "default", StringIO(), popen=fake_popen)
    fake_popen.stop()
    assert kar_demo.running_pid(tmp_path) is None
    assert kar_demo.ensure_started(tmp_path, "default", StringIO(), popen=fake_popen) == "started"
    assert len(fake_popen.calls) == 2


def test_a_pid_that_now_belongs_to_another_program_does_not_count(tmp_path):
    (tmp_path / kar_demo.NAME).mkdir()
    (tmp_path / kar_demo.NAME / kar_demo.PID_FILE).write_text(f"{os.getpid()}\n")  # pytest: alive, not run_kar
    assert kar_demo.running_pid(tmp_path) is None
    (tmp_path / kar_demo.NAME / kar_demo.PID_FILE).write_text("garbage")
    assert kar_demo.running_pid(tmp_path) is None


PROBE = """
import os
from pathlib import Path
group = Path("/proc/self/autogroup")
print(os.nice(0), group.read_text().split()[-1] if group.exists() else "-")
"""


def test_the_run_gets_a_lower_cpu_priority_than_the_site(tmp_path):
    def popen(args, **kwargs):  # the real Popen with the real options, running a probe instead of run_kar
        return subprocess.Popen([sys.executable, "-c", PROBE], **kwargs)

    kar_demo.ensure_started(tmp_path, "default", StringIO(), popen=popen)
    log = tmp_path / kar_demo.NAME / kar_demo.LOG_FILE
    for _ in range(100):
        if log.read_text().strip():
            break
        time.sleep(0.1)
    niceness, group = log.read_text().split()
    assert int(niceness) == min(19, os.nice(0) + kar_demo.NICENESS)
    if Path("/proc/self/autogroup").exists():  # its own session's scheduling group is lowered too
        assert int(group) == kar_demo.NICENESS
