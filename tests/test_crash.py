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


@pytest.mark.slow
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
    assert len(list(sweep.results.glob(".sweep_new.*"))) == 1
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert resumed.returncode == 0 and "2 runs, 0 to do" in resumed.stdout
    assert not list(sweep.results.glob(".sweep_new.*"))  # its maker is dead: cleaned at once


@pytest.mark.slow
def test_a_half_made_sweep_folder_a_live_runner_is_writing_is_left_alone(sweep):
    sweep.generate("1|2")
    sweep.run()
    runner = paused_runner(sweep, "manifest-written")  # alive, holding its new folder's lock
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert resumed.returncode == 0
    assert len(list(sweep.results.glob(".sweep_new.*"))) == 1
    runner.send_signal(signal.SIGCONT)
    runner.communicate(timeout=60)
    assert runner.returncode == 0 and len(sweep.dirs()) == 2


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


@pytest.fixture
def killed_after():
    """Processes to SIGKILL when the test ends, passed or not: a failed test leaves no hung run."""
    started = []
    yield started.append
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def running_runs(sweep) -> int:
    records = [p for d in sweep.dirs() for p in d.glob("config_*/training_metrics.json")]
    return sum(b'"status": "running"' in p.read_bytes() for p in records if p.exists())


def test_sigterm_to_makes_process_group_while_runs_train_interrupts_them_and_says_how_to_resume(
    sweep, killed_after
):
    # make, killed by SIGTERM, sends each child a TERM of its own: the runner gets two at once.
    sweep.generate("1|2|3")
    make = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "sweep-run", f"CONFIG_DIR={sweep.configs}", f"OUTPUT={sweep.results}",
         f"TRAIN_COMMAND={TINY}", "JOBS=2"],
        env={**os.environ, "TINY_HANG_FROM": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    killed_after(make)
    wait_for(lambda: running_runs(sweep) == 2, 60)
    os.killpg(make.pid, signal.SIGTERM)
    _, err = make.communicate(timeout=60)
    wait_for(lambda: not processes_with(str(sweep.dirs()[0])), 30)  # no run left behind
    assert set(sweep.statuses().values()) == {"interrupted"}  # the waiting one too, none `running`
    assert "Traceback" not in err.decode()


def test_a_sigterm_and_its_echo_from_make_stop_the_runs_and_print_the_resume_command(sweep, killed_after):
    sweep.generate("1|2|3")
    runner = sweep.popen("--jobs", "2", env={"TINY_HANG_FROM": "1"})
    killed_after(runner)
    wait_for(lambda: running_runs(sweep) == 2, 60)
    runner.send_signal(signal.SIGTERM)
    time.sleep(0.2)  # make's own TERM to its children follows the group's (two signals, not one)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert (
        "STOP    interrupted; finished runs are kept. Resume with: make sweep-resume SWEEP=" in err.decode()
    )
    assert set(sweep.statuses().values()) == {"interrupted"}
    assert not processes_with(str(sweep.dirs()[0]))


def test_a_second_ctrl_c_kills_the_runs_at_once_but_never_abandons_them(sweep, killed_after):
    sweep.generate("1|2")
    runner = sweep.popen("--jobs", "2", env={"TINY_HANG_FROM": "1", "TINY_IGNORE_TERM": "1"})
    killed_after(runner)
    wait_for(lambda: running_runs(sweep) == 2, 60)
    runner.send_signal(signal.SIGINT)
    time.sleep(1.5)  # a person's second Ctrl-C, not an echo of the first
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130 and "Resume with:" in err.decode()
    assert set(sweep.statuses().values()) == {"interrupted"}
    assert not processes_with(str(sweep.dirs()[0]))


def test_sigterm_just_after_a_new_sweep_is_published_says_how_to_resume_it(sweep):
    sweep.generate("1|2")
    err = interrupt(paused_runner(sweep, "warming-up"))
    assert "Resume with: make sweep-resume SWEEP=" in err
    resumed = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert resumed.returncode == 0 and set(sweep.statuses().values()) == {"completed"}
