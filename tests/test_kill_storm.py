"""A kill storm: the runner killed at random moments (SIGKILL, SIGTERM, SIGINT to its process
group, as a terminal's Ctrl-C or a scheduler's TERM sends them), resumed, again and again,
until the sweep is done. After every kill: each record parses, no run is left running (or
still `running` after a TERM or an INT), a run that had finished is byte for byte as it was,
and an interrupted command said how to resume. The moments come from a seeded generator, so
a failure can be replayed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY, wait_for
from tests.test_crash import processes_with

pytestmark = pytest.mark.slow  # a minute of killing: make test-all

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


def runner(sweep, resume: bool) -> subprocess.Popen:
    args = ["--resume", "--output-dir", sweep.results] if resume else sweep.args()
    command = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), *map(str, args), "--jobs", "2"]
    if resume:
        command += ["--train-command", TINY]
    env = {**os.environ, "TINY_SLEEP": "0.3"}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def records(sweep) -> dict[str, bytes]:
    found = {}
    for sweep_dir in sweep.dirs():
        for path in sweep_dir.glob("config_*/training_metrics.json"):
            found[path.parent.name] = path.read_bytes()
    return found


def check_after(sweep, signum, err: str, finished: dict[str, bytes]) -> None:
    now = records(sweep)
    for data in now.values():
        json.loads(data)  # every record parses, whatever instant the kill hit
    for name, data in finished.items():
        assert now.get(name) == data, f"{name}: a finished run changed"
    if sweep.dirs():
        wait_for(lambda: not processes_with(str(sweep.dirs()[0])), 30)  # no run left behind
    if signum != signal.SIGKILL:
        statuses = [json.loads(data)["status"] for data in now.values()]
        assert "running" not in statuses, f"after {signum.name}: runs left running: {err}"
        assert "Traceback" not in err
        if sweep.dirs() and "nothing was started" not in err:
            assert "Resume with: make sweep-resume SWEEP=" in err, err


def test_a_sweep_killed_at_random_moments_and_resumed_ends_whole(sweep):
    sweep.generate(":".join(["40", "1", "51"]))  # 12 runs
    chance = random.Random(20261206)
    finished: dict[str, bytes] = {}
    for cycle in range(14):
        process = runner(sweep, resume=bool(sweep.dirs()))
        signum = SIGNALS[cycle % 3]
        try:
            process.wait(timeout=chance.uniform(0.3, 2.5))  # it may finish before the kill
            killed_by = None
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signum)
            killed_by = signum
        _, err = process.communicate(timeout=120)
        check_after(sweep, killed_by or signal.SIGKILL, err.decode(), finished)
        if killed_by in (signal.SIGTERM, signal.SIGINT):
            assert process.returncode == 130, err.decode()
        finished.update({n: d for n, d in records(sweep).items() if json.loads(d)["status"] == "completed"})
    done = runner(sweep, resume=True)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    (sweep_dir,) = sweep.dirs()
    plan = json.loads((sweep_dir / "plan.json").read_text())
    assert len(plan) == 12 and set(sweep.statuses().values()) == {"completed"}
    for name, data in finished.items():
        assert (sweep_dir / name / "training_metrics.json").read_bytes() == data
