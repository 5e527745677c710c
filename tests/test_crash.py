"""The crash review's instants, each hit exactly (pause points, states), never by a lucky sleep."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, TINY, run_script, wait_for


def stopped(process: subprocess.Popen) -> bool:
    """The process stopped itself at a pause point (state T)."""
    with open(f"/proc/{process.pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def paused_runner(sweep, point: str, *extra, env=None):
    runner = sweep.popen(*extra, env={"KSWEEP_PAUSE_AT": point, **(env or {})})
    wait_for(lambda: stopped(runner) or runner.poll() is not None)
    assert runner.poll() is None, runner.communicate()
    return runner


def interrupt(runner: subprocess.Popen) -> str:
    """Ctrl-C a runner stopped at a pause point, let it go on, and return its stderr."""
    runner.send_signal(signal.SIGINT)
    runner.send_signal(signal.SIGCONT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130 and "Traceback" not in err.decode()
    return err.decode()


def processes_with(needle: str) -> list[int]:
    found = []
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                with open(f"/proc/{proc}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        found.append(int(proc))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("point", ["manifest-written", "planned"])
def test_a_runner_killed_while_planning_leaves_no_sweep_folder_and_no_newest_sweep(sweep, point):
    sweep.generate("1|2")
    sweep.run()
    (finished,) = sweep.dirs()
    runner = paused_runner(sweep, point)
    runner.kill()
    runner.communicate(timeout=30)
    assert sweep.dirs() == [finished]  # the killed one is not a sweep folder, so not "the newest"
    monitor = run_script("sweep_monitor.py", "--results-dir", sweep.results)
    assert finished.name in monitor.stdout and "2/2 done" in monitor.stdout
    (hidden,) = sweep.results.glob(".sweep_new.*")
    os.utime(hidden, (time.time() - 3600, time.time() - 3600))
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert resumed.returncode == 0 and "2 runs, 0 to do" in resumed.stdout
    assert not list(sweep.results.glob(".sweep_new.*"))  # an hour-old half-made folder is cleaned


def test_resume_after_a_kill_right_after_planning_keeps_the_sweeps_trainer(sweep):
    sweep.generate("1:1:3")
    runner = sweep.popen(env={"TINY_SLEEP": "30"})
    wait_for(lambda: list(sweep.results.glob("sweep_*/config_001_*/output.log")))
    runner.kill()  # the first instant at which the sweep folder exists
    runner.communicate(timeout=30)
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    logs = [p.read_text() for p in sweep.dirs()[0].glob("config_*/output.log")]
    assert len(logs) == 3 and all("tiny trainer: seed" in log for log in logs)  # never the built-in one


def test_ctrl_c_while_planning_ends_with_a_clear_line_and_leaves_nothing_half_made(sweep):
    sweep.generate("1|2")
    err = interrupt(paused_runner(sweep, "planned"))
    assert "STOP    interrupted" in err
    assert not sweep.dirs() and not list(sweep.results.glob(".sweep_new.*"))


def test_ctrl_c_during_the_final_analysis_finishes_it_then_prints_the_resume_line(sweep):
    sweep.generate("1|2")
    err = interrupt(paused_runner(sweep, "analysis"))
    assert "make sweep-resume SWEEP=" in err
    assert (sweep.dirs()[0] / "sweep_analysis.txt").is_file()
    assert set(sweep.statuses().values()) == {"completed"}


def test_a_run_whose_trainer_wrote_completed_stays_completed_when_sigterm_follows(sweep):
    sweep.generate("1")
    runner = sweep.popen(env={"TINY_LINGER": "30"})

    def trainer_wrote_completed():
        found = list(sweep.results.glob("sweep_*/config_001_*/training_metrics.json"))
        return found and json.loads(found[0].read_text())["status"] == "completed"

    wait_for(trainer_wrote_completed)
    runner.send_signal(signal.SIGTERM)
    runner.communicate(timeout=60)
    assert sweep.statuses() == {"001": "completed"}
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert "1 run, 0 to do" in resumed.stdout  # never trained again


def test_a_refused_runner_names_the_holder_even_at_the_instant_the_lock_is_taken(sweep):
    sweep.generate("1")
    sweep.run()
    (sweep_dir,) = sweep.dirs()
    first = paused_runner(sweep, "lock-taken", "--sweep", sweep_dir)
    try:
        second = sweep.run("--sweep", sweep_dir)
        assert second.returncode == 2 and f"another runner (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
        first.communicate(timeout=60)


def test_helpers_a_run_leaves_running_are_gone_when_the_run_ends(sweep):
    marker = f"{300 + uuid.uuid4().int % 1000}.{os.getpid()}"
    sweep.generate("1|2")
    result = sweep.run(env={"TINY_HELPER": f"sleep {marker}"})
    assert result.returncode == 0, result.stderr
    wait_for(lambda: not processes_with(f"sleep\0{marker}"), seconds=15)


def test_helpers_and_the_run_die_when_the_runner_is_killed_with_sigkill(sweep):
    marker = f"{300 + uuid.uuid4().int % 1000}.{os.getpid()}"
    sweep.generate("1")
    runner = sweep.popen(env={"TINY_HELPER": f"sleep {marker}", "TINY_SLEEP": "300"})
    wait_for(lambda: processes_with(f"sleep\0{marker}"))
    trainer = processes_with(str(ROOT / "tests/data/tiny_trainer.py"))
    assert trainer
    os.kill(runner.pid, signal.SIGKILL)
    runner.communicate(timeout=30)
    wait_for(lambda: not processes_with(f"sleep\0{marker}"), seconds=15)
    wait_for(lambda: not processes_with(str(ROOT / "tests/data/tiny_trainer.py")), seconds=15)
    assert TINY and sys.executable  # the trainer ran as the sweep's TRAIN_COMMAND
