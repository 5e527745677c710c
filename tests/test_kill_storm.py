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

import optuna
import pytest

from tests.conftest import ROOT, TINY, wait_for
from tests.test_crash import processes_with

pytestmark = pytest.mark.slow  # a minute of killing: make test-all

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


def runner(sweep, resume: bool, flags: tuple = (), env: dict | None = None) -> subprocess.Popen:
    args = ["--resume", "--output-dir", sweep.results] if resume else [*sweep.args(), *flags]
    command = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), *map(str, args), "--jobs", "2"]
    if resume:
        command += ["--train-command", TINY]
    env = {**os.environ, "TINY_SLEEP": "0.3", **(env or {})}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def records(sweep) -> dict[str, bytes]:
    found = {}
    for sweep_dir in sweep.dirs():
        for path in sweep_dir.glob("config_*/training_metrics.json"):
            found[path.parent.name] = path.read_bytes()
    return found


def check_after(sweep, signum, err: str, finished: dict[str, bytes], stale: dict[str, bytes]) -> None:
    now = records(sweep)
    for data in now.values():
        json.loads(data)  # every record parses, whatever instant the kill hit
    for name, data in finished.items():
        assert now.get(name) == data, f"{name}: a finished run changed"
    if sweep.dirs():
        wait_for(lambda: not processes_with(str(sweep.dirs()[0])), 30)  # no run left behind
    if signum != signal.SIGKILL:
        left = [name for name, data in now.items() if json.loads(data)["status"] == "running"]
        mine = [name for name in left if stale.get(name) != now[name]]  # not left by an earlier SIGKILL
        assert not mine, f"after {signum.name}: runs left running: {mine}: {err}"
        assert "Traceback" not in err
        if sweep.dirs() and "nothing was started" not in err:
            assert "Resume with: make sweep-resume SWEEP=" in err, err


def finished_first(code: int, signum, out: str, err: str) -> bool:
    """Whether the runner had done all its work when the signal came: it exited 0, or the
    signal landed while Python was shutting down (its handlers are gone by then: killed
    silently, after its last line)."""
    if code == 0:
        return True
    done = "BEST" in out or "nothing to do" in out
    return signum is not None and code == -signum and not err.strip() and done


GRID = ("40:1:51", "", (), {})  # 12 runs
# A search with a pruner: 12 of 20 configs, each run 3 epochs (the tiny trainer scores by weight decay).
SEARCH = (
    "1",
    "CONFIG_WEIGHT_DECAY=0.30:0.01:0.49\n",
    ("--search", "tpe", "--samples", "12", "--pruner", "asha"),
    {"TINY_SCORE_FROM": "CONFIG_WEIGHT_DECAY", "TINY_EPOCHS": "3", "TINY_EPOCH_SLEEP": "0.1"},
)


@pytest.mark.parametrize("seeds, extra, flags, env", [GRID, SEARCH], ids=["grid", "tpe+asha"])
def test_a_sweep_killed_at_random_moments_and_resumed_ends_whole(sweep, seeds, extra, flags, env):
    sweep.generate(seeds, extra)
    chance = random.Random(20261206)
    finished: dict[str, bytes] = {}
    for cycle in range(14):
        # Runs a SIGKILLed runner left `running`: the next runner may stop before it reaches them.
        stale = {n: d for n, d in records(sweep).items() if json.loads(d)["status"] == "running"}
        process = runner(sweep, bool(sweep.dirs()), flags, env)
        signum = SIGNALS[cycle % 3]
        try:
            process.wait(timeout=chance.uniform(0.3, 2.5))  # it may finish before the kill
            killed_by = None
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signum)
            killed_by = signum
        out, err = process.communicate(timeout=120)
        if finished_first(process.returncode, killed_by, out.decode(), err.decode()):
            killed_by = None  # the command had ended its work when the signal came
        check_after(sweep, killed_by or signal.SIGKILL, err.decode(), finished, stale)
        if killed_by in (signal.SIGTERM, signal.SIGINT):
            assert process.returncode == 130, err.decode()
        settled = ("completed", "pruned")
        finished.update({n: d for n, d in records(sweep).items() if json.loads(d)["status"] in settled})
    done = runner(sweep, True, env=env)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    (sweep_dir,) = sweep.dirs()
    plan = json.loads((sweep_dir / "plan.json").read_text())
    assert len(plan) == 12 and set(sweep.statuses().values()) <= {"completed", "pruned"}
    assert "completed" in sweep.statuses().values()
    for name, data in finished.items():
        assert (sweep_dir / name / "training_metrics.json").read_bytes() == data
    if flags:  # no trial of either study left RUNNING
        journal = (sweep_dir / "search/optuna.journal").read_text()
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(sweep_dir / "search/optuna.journal"))
        )
        for name in ("ksweep", "ksweep-stopper"):
            study = optuna.load_study(study_name=name, storage=storage)
            assert optuna.trial.TrialState.RUNNING not in {t.state for t in study.trials}, journal[-500:]
