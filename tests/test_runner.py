"""The matrix runner through its real CLI, with a tiny contract-honouring trainer (no torch)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ksweep.launchers.base import slot_envs
from tests.conftest import ROOT, TINY, run_script, wait_for


def completed_runs(results: Path) -> list[Path]:
    found = []
    for metrics in results.glob("sweep_*/config_*/training_metrics.json"):
        try:
            if json.loads(metrics.read_text()).get("status") == "completed":
                found.append(metrics.parent)
        except ValueError:
            pass
    return found


@pytest.mark.slow
def test_each_failure_marks_its_run_and_the_sweep_goes_on(sweep):
    sweep.generate("1|13|14|15|16|2")
    result = sweep.run("--run-timeout", "2")
    assert result.returncode == 0, result.stderr
    assert sweep.statuses() == {
        "001": "completed",
        "002": "failed",  # os.abort()
        "003": "timeout",  # hung, killed at RUN_TIMEOUT
        "004": "failed",  # exit 3, wrote nothing
        "005": "diverged",
        "006": "completed",
    }
    sweep_dir = sweep.dirs()[0]
    aborted = json.loads((sweep_dir / "config_002_lenet5_adamw/training_metrics.json").read_text())
    assert aborted["error"] == "killed by signal SIGABRT" and "about to abort" in aborted["log_tail"]
    silent = json.loads((sweep_dir / "config_004_lenet5_adamw/training_metrics.json").read_text())
    assert silent["error"] == "exited with code 3" and "giving up" in silent["log_tail"]
    assert "FAILED after" in result.stdout and "(last output: giving up)" in result.stdout
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert len(summary) == 6 and sum(r["success"] for r in summary) == 2
    assert "BEST    config_006_lenet5_adamw" in result.stdout
    assert "FAILED TESTS:" in (sweep_dir / "sweep_analysis.txt").read_text()


def test_seed_guides_log_path_pattern_finds_the_log(sweep):
    sweep.generate("1|2|3")
    sweep.run()
    logs = list(sweep.results.glob("sweep_*/config_003_*/output.log"))
    assert len(logs) == 1 and "tiny trainer: seed 3" in logs[0].read_text()


def test_results_are_readable_by_colleagues_as_the_umask_allows(sweep):
    sweep.generate("1")
    sweep.run()
    umask = os.umask(0)
    os.umask(umask)
    sweep_dir = sweep.dirs()[0]
    for name in ("sweep_summary.json", "sweep_analysis.txt", "sweep.json", "plan.json"):
        assert (sweep_dir / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    (run_dir,) = sweep_dir.glob("config_*")
    assert (run_dir / "config.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def trainer_pid(log: Path) -> int | None:
    """The pid the tiny trainer printed first in its log."""
    text = log.read_text() if log.exists() else ""
    return int(text.split("pid ")[1].split()[0]) if "pid " in text else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_kill_9_then_resume_keeps_finished_runs_and_redoes_nothing(sweep):
    sweep.generate("1:1:6")
    runner = sweep.popen(env={"TINY_HANG_FROM": "3"})
    # The runner starts run 3 only after settling run 2 and rewriting the summary.
    log = lambda: next(iter(sweep.results.glob("sweep_*/config_003_*/output.log")), None)  # noqa: E731
    wait_for(lambda: log() and trainer_pid(log()))
    orphan = trainer_pid(log())
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    wait_for(lambda: not alive(orphan), seconds=30)  # run 3 dies with its runner
    sweep_dir = sweep.dirs()[0]
    done_at_kill = {
        p.name: {f.name: f.read_bytes() for f in p.iterdir()} for p in completed_runs(sweep.results)
    }
    assert sorted(done_at_kill) == ["config_001_lenet5_adamw", "config_002_lenet5_adamw"]
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert {r["run_dir"] for r in summary if r["success"]} == set(done_at_kill)

    result = run_script(
        "run_test_matrix.py", "--resume", "--output-dir", sweep.results, cwd=sweep.results.parent
    )
    assert result.returncode == 0, result.stderr
    assert "6 runs, 4 to do" in result.stdout
    assert sweep.dirs() == [sweep_dir]
    assert set(sweep.statuses().values()) == {"completed"}
    for name, files in done_at_kill.items():
        for file, content in files.items():
            assert (sweep_dir / name / file).read_bytes() == content
    for path in sweep_dir.rglob("*.json"):
        json.loads(path.read_text())


def trainer_is_training(sweep, number: str) -> bool:
    found = list(sweep.results.glob(f"sweep_*/config_{number}_*/training_metrics.json"))
    try:
        return bool(found) and json.loads(found[0].read_text())["status"] == "running"
    except ValueError:
        return False


@pytest.mark.slow
def test_ctrl_c_marks_running_run_interrupted_and_resume_finishes(sweep):
    sweep.generate("1:1:4")
    runner = sweep.popen(env={"TINY_HANG_FROM": "1"})
    wait_for(lambda: trainer_is_training(sweep, "001"))
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 130
    assert b"make sweep-resume SWEEP=" in err
    assert sweep.statuses() == {"001": "interrupted"}
    result = run_script(
        "run_test_matrix.py", "--resume", "--output-dir", sweep.results, cwd=sweep.results.parent
    )
    assert result.returncode == 0
    assert set(sweep.statuses().values()) == {"completed"} and len(sweep.statuses()) == 4


def test_second_runner_on_one_sweep_refuses_and_no_run_is_done_twice(sweep):
    sweep.generate("1:1:4")
    first = sweep.popen(env={"TINY_HANG_FROM": "4"})
    wait_for(lambda: trainer_is_training(sweep, "004"))  # the first runner is busy, holding the lock
    second = sweep.run("--sweep", sweep.dirs()[0])
    assert second.returncode == 2
    assert f"another runner (pid {first.pid})" in second.stderr
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    logs = [p.read_text() for p in sweep.dirs()[0].glob("config_*/output.log")]
    assert len(logs) == 4 and all(log.count("tiny trainer:") == 1 for log in logs)


@pytest.mark.slow
def test_resume_skips_finished_runs_and_retry_failed_reruns_only_failures(sweep):
    sweep.generate("1|15|2")
    sweep.run()
    sweep_dir = sweep.dirs()[0]
    first_log = (sweep_dir / "config_001_lenet5_adamw/output.log").read_bytes()
    again = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert "3 runs, 0 to do" in again.stdout
    retry = run_script("run_test_matrix.py", "--resume", "--retry-failed", "--output-dir", sweep.results)
    assert "3 runs, 1 to do" in retry.stdout
    assert (sweep_dir / "config_001_lenet5_adamw/output.log").read_bytes() == first_log


@pytest.mark.slow
def test_regenerated_grid_maps_by_config_and_runs_only_new_points(sweep):
    sweep.generate("1|2")
    sweep.run()
    sweep_dir = sweep.dirs()[0]
    sweep.generate("3|2|1")  # other numbering, one new point
    result = sweep.run("--sweep", sweep_dir)
    assert result.returncode == 0
    assert "3 runs, 1 new, 1 to do" in result.stdout
    assert sweep.statuses() == {"001": "completed", "002": "completed", "003": "completed"}
    assert "seed 3" in (sweep_dir / "config_003_lenet5_adamw/output.log").read_text()
    assert sweep.dirs() == [sweep_dir]


def test_retries_rerun_a_failed_run(sweep):
    sweep.generate("13|1")
    sweep.run("--retries", "1")
    sweep_dir = sweep.dirs()[0]
    metrics = json.loads((sweep_dir / "config_001_lenet5_adamw/training_metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["runner"]["attempts"] == 2
    assert "attempt 2" in (sweep_dir / "config_001_lenet5_adamw/output.log").read_text()


def test_stop_on_failure_starts_nothing_more(sweep):
    sweep.generate("15|1|2")
    result = sweep.run("--stop-on-failure")
    assert result.returncode == 1 and "STOP_ON_FAILURE" in result.stderr
    assert sweep.statuses() == {"001": "failed"}


def test_epochs_override_reaches_every_run_config(sweep):
    sweep.generate("1|2")
    sweep.run("--epochs", "7")
    for config in sweep.dirs()[0].glob("config_*/config.txt"):
        assert "CONFIG_NUM_EPOCHS=7" in config.read_text().splitlines()


def test_parallel_jobs_run_at_once(sweep, tmp_path):
    sweep.generate("1:1:4")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    # Each run waits until all four have started: they complete only if they run at once.
    result = sweep.run("--jobs", "4", env={"TINY_BARRIER": f"{barrier}:4"})
    assert result.returncode == 0, result.stdout
    assert set(sweep.statuses().values()) == {"completed"} and len(list(barrier.iterdir())) == 4


def test_dry_run_lists_runs_and_changes_and_creates_nothing(sweep):
    sweep.generate("1|2", extra="CONFIG_LEARNING_RATE=0.01\n")
    result = sweep.run("--dry-run")
    assert result.returncode == 0
    assert "config_001_lenet5_adamw" in result.stdout and "CONFIG_SEED=1" in result.stdout
    assert "CONFIG_LEARNING_RATE=0.01" in result.stdout and "CONFIG_BATCH_SIZE" not in result.stdout
    assert "2 of 2 runs to do" in result.stdout
    assert not sweep.results.exists()


def test_monitor_counts_pending_runs_from_the_plan(sweep):
    sweep.generate("1:1:4")
    runner = sweep.popen(env={"TINY_HANG_FROM": "1"})
    wait_for(lambda: trainer_is_training(sweep, "001"))
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=30)
    out = run_script("sweep_monitor.py", "--results-dir", sweep.results).stdout
    assert "0/4 done" in out and "4 pending" in out and "no runner attached" in out


def test_missing_config_dir_is_a_clear_error(sweep):
    result = sweep.run()
    assert result.returncode == 2 and "no such folder" in result.stderr and "Traceback" not in result.stderr
    assert not sweep.results.exists()


def test_gpu_slots_get_their_own_device_and_pack_k_per_gpu():
    slots = slot_envs(None, 2, ["0", "1"])
    assert [s["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "0", "1", "1"]
    assert {s["CUDA_DEVICE_ORDER"] for s in slots} == {"PCI_BUS_ID"}  # as nvidia-smi and NVML number them
    assert len(slot_envs(3, 2, ["0", "1"])) == 3
    assert {s["KSWEEP_THREADS"] for s in slots} == {str(max(1, (os.cpu_count() or 1) // 4))}
    cpu_slots = slot_envs(2, 1, [])
    assert len(cpu_slots) == 2 and all("CUDA_VISIBLE_DEVICES" not in s for s in cpu_slots)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs where mounting is allowed (root), else a 12 KiB file-size limit."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    if (
        os.environ.get("KSWEEP_TEST_NO_MOUNT")
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
    ):
        yield mount, "ulimit -f 24 && "  # 24 blocks of 512 bytes: writes beyond fail with EFBIG
        return
    yield mount, ""
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_stops_with_a_clear_message_and_keeps_finished_runs(sweep, small_disk):
    mount, limit = small_disk
    sweep.generate("100:1:199")  # 100 runs, each completing (seeds below 20 misbehave)
    args = " ".join(f"'{a}'" for a in sweep.args())
    args = args.replace(f"'{sweep.results}'", f"'{mount / 'results'}'")
    command = f"trap '' XFSZ; {limit}{sys.executable} {ROOT / 'scripts/run_test_matrix.py'} {args}"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: " in result.stderr and (
        "No space left" in result.stderr or "File too large" in result.stderr
    )
    finished = completed_runs(mount / "results")
    assert finished, "some runs should have completed before the disk filled"
    for run_dir in finished:
        assert json.loads((run_dir / "training_metrics.json").read_text())["final"]["val_acc"] > 90


def test_two_sweeps_started_in_the_same_second_get_their_own_dirs(tmp_path):
    from ksweep.folder.plan import new_sweep_dir, publish_sweep_dir

    first, second = (publish_sweep_dir(new_sweep_dir(tmp_path)) for _ in range(2))
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name.startswith(first.name[: len("sweep_YYYYMMDD_HHMM")])


@pytest.mark.slow
def test_newest_sweep_is_the_one_created_last_not_the_last_name(sweep):
    sweep.generate("1")
    sweep.run()
    (older,) = sweep.dirs()
    shutil.copytree(older, sweep.results / "sweep_copy")  # sorts after every sweep_2026... name
    time.sleep(1.1)  # creation times have one-second resolution
    sweep.run()
    (newest,) = set(sweep.dirs()) - {older, sweep.results / "sweep_copy"}
    out = run_script("sweep_monitor.py", "--results-dir", sweep.results).stdout
    assert newest.name in out and "sweep_copy" not in out


@pytest.mark.parametrize(
    "seed, reason",
    [
        ("17", "training_metrics.json is not valid JSON"),
        ("18", "training_metrics.json holds a JSON list, not an object"),
        ("19", "training_metrics.json: unknown status 'weird'"),
        ("20", "final.val_acc is str '92.0', not a number"),
        ("21", "accuracies are percentages (0-100), not fractions"),
        ("22", "final.val_acc is nan, not a finite number"),
    ],
)
def test_a_custom_trainers_unusable_record_fails_its_run_naming_why_and_is_kept(sweep, seed, reason):
    sweep.generate(f"1|{seed}")
    result = sweep.run()
    statuses = sweep.statuses()
    assert statuses == {"001": "completed", "002": "failed"}, result.stdout
    (run_dir,) = sweep.dirs()[0].glob("config_002_*")
    record = json.loads((run_dir / "training_metrics.json").read_text())
    assert reason in record["error"] and reason in result.stdout
    assert (run_dir / "training_metrics.json.invalid").is_file()  # what the trainer wrote, for its author


def test_a_config_the_trainer_refused_is_not_retried(sweep):
    sweep.generate("23|1")
    result = sweep.run("--retries", "2")
    assert "RETRY" not in result.stdout
    (run_dir,) = sweep.dirs()[0].glob("config_001_*")
    record = json.loads((run_dir / "training_metrics.json").read_text())
    assert record["status"] == "failed" and record["runner"]["attempts"] == 1


def test_a_sweep_in_which_no_run_completed_exits_non_zero_with_its_analysis(sweep):
    sweep.generate("15|16")
    result = sweep.run()
    assert result.returncode == 1 and "no run of" in result.stderr and "completed" in result.stderr
    assert (sweep.dirs()[0] / "sweep_analysis.txt").is_file()


@pytest.mark.parametrize(
    "command, message",
    [
        ('python "unbalanced.py', "No closing quotation (check its quotes)"),
        ("pythonn tiny.py", "pythonn: no such program"),
    ],
)
def test_a_train_command_that_cannot_start_is_refused_before_any_sweep_folder(sweep, command, message):
    sweep.generate("1|2")
    args = [a for a in sweep.args() if a != TINY][:-1] + ["--train-command", command]
    result = run_script("run_test_matrix.py", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not sweep.results.exists() or not list(sweep.results.iterdir())


@pytest.mark.slow
def test_resuming_a_sweep_whose_only_unfinished_runs_failed_suggests_retry_failed(sweep):
    sweep.generate("1|15")
    sweep.run()
    again = run_script("run_test_matrix.py", "--resume", "--output-dir", sweep.results)
    assert "2 runs, 0 to do" in again.stdout and "RETRY_FAILED=1" in again.stdout


@pytest.mark.slow
def test_dry_run_of_an_extended_sweep_names_new_runs_as_the_real_run_will(sweep):
    sweep.generate("1|2")
    sweep.run()
    (sweep_dir,) = sweep.dirs()
    sweep.generate("1|2|3")
    dry = sweep.run("--sweep", sweep_dir, "--dry-run")
    lines = [line.split() for line in dry.stdout.splitlines() if line.startswith("  config_")]
    assert [(words[0], words[1]) for words in lines] == [
        ("config_001_lenet5_adamw", "completed"),
        ("config_002_lenet5_adamw", "completed"),
        ("config_003_lenet5_adamw", "pending"),
    ]
    assert "CONFIG_SEED=3" in " ".join(lines[2]) and "1 of 3 runs to do" in dry.stdout
    sweep.run("--sweep", sweep_dir)
    assert "seed 3" in (sweep_dir / "config_003_lenet5_adamw/output.log").read_text()


def test_a_dirty_working_tree_is_recorded_with_a_hash_of_its_difference(tmp_path):
    from ksweep.contract.gitstate import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "model.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = git_state(tmp_path)
    assert clean["git_commit"] and clean["git_dirty"] is False and clean["git_diff_sha256"] is None
    (tmp_path / "model.py").write_text("x = 2\n")
    dirty = git_state(tmp_path)
    assert dirty["git_commit"] == clean["git_commit"] and dirty["git_dirty"] is True
    (tmp_path / "model.py").write_text("x = 3\n")
    assert git_state(tmp_path)["git_diff_sha256"] != dirty["git_diff_sha256"]


def test_an_unknown_metric_is_refused_before_the_first_run(sweep):
    sweep.generate("1|2")
    result = sweep.run("--metric", "val_acuracy")
    assert result.returncode == 2 and "did you mean val_acc?" in result.stderr
    assert not sweep.results.exists() or not sweep.dirs()


def test_val_loss_without_a_mode_ranks_the_lowest_loss_first_in_the_sweep(sweep):
    sweep.generate("1|5|3")
    result = sweep.run("--metric", "val_loss")
    assert result.returncode == 0 and "BEST    config_002_lenet5_adamw" in result.stdout  # seed 5: lowest


@pytest.mark.slow
def test_promote_then_sweep_run_trains_with_the_promoted_sweeps_train_command(sweep):
    sweep.generate("1|2|3")
    sweep.run()
    (source,) = sweep.dirs()
    promoted = run_script(
        "sweep_promote.py",
        "--results-dir",
        sweep.results,
        "--sweep",
        source,
        "--top",
        "2",
        "--out",
        sweep.configs,
    )
    assert promoted.returncode == 0, promoted.stderr
    result = run_script("run_test_matrix.py", "--config-dir", sweep.configs, "--output-dir", sweep.results)
    assert result.returncode == 0, result.stderr
    (new,) = set(sweep.dirs()) - {source}
    logs = [p.read_text() for p in new.glob("config_*/output.log")]
    assert len(logs) == 2 and all("tiny trainer: seed" in log for log in logs)
    manifest = json.loads((new / "sweep.json").read_text())
    assert manifest["promoted_from"] == str(source.resolve()) and manifest["options"]["train_command"] == TINY


def test_a_sweep_the_builtin_trainer_would_refuse_entirely_is_refused_before_it_starts(tmp_path, range_file):
    path = range_file("CONFIG_PRUNING_WARMUP=7800|11700\nCONFIG_PRUNING_RAMP_END_EPOCH=70\n")
    assert run_script("generate_config_combinations.py", path, tmp_path / "sc").returncode == 0
    result = run_script(
        "run_test_matrix.py", "--config-dir", tmp_path / "sc", "--output-dir", tmp_path / "res"
    )
    assert (
        result.returncode == 2 and "all 2 configs would be refused by the built-in trainer" in result.stderr
    )
    assert "fix: " in result.stderr and not (tmp_path / "res").exists()


@pytest.mark.slow
def test_extending_a_sweep_from_another_range_file_keeps_its_first_source(sweep, tmp_path):
    sweep.generate("1|2")
    sweep.run()
    (sweep_dir,) = sweep.dirs()
    first = json.loads((sweep_dir / "sweep.json").read_text())
    (tmp_path / "bigger").write_text("CONFIG_SEED=1|2|3\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n")
    run_script("generate_config_combinations.py", tmp_path / "bigger", sweep.configs)
    sweep.run("--sweep", sweep_dir)
    manifest = json.loads((sweep_dir / "sweep.json").read_text())
    assert manifest["range_text"] == first["range_text"] and manifest["range_file"] == first["range_file"]
    (extension,) = manifest["extended_from"]
    assert "CONFIG_SEED=1|2|3" in extension["range_text"] and manifest["count"] == 3


@pytest.mark.slow
def test_a_run_that_ignores_sigterm_is_killed_after_the_grace_period_and_marked_timeout(sweep):
    sweep.generate("14|1")
    result = sweep.run("--run-timeout", "1", env={"TINY_IGNORE_TERM": "1"})
    assert sweep.statuses() == {"001": "timeout", "002": "completed"}, result.stdout
    (run_dir,) = sweep.dirs()[0].glob("config_001_*")
    record = json.loads((run_dir / "training_metrics.json").read_text())
    assert record["runner"]["exit_code"] == -signal.SIGKILL  # TERM was ignored: KILL ended it
    assert record["error"] == "killed after RUN_TIMEOUT=1 s"


def test_sigterm_to_the_runner_stops_it_like_ctrl_c(sweep):
    sweep.generate("1:1:3")
    runner = sweep.popen(env={"TINY_HANG_FROM": "2"})
    wait_for(lambda: trainer_is_training(sweep, "002"))
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130 and b"make sweep-resume SWEEP=" in err
    assert sweep.statuses() == {"001": "completed", "002": "interrupted"}


def test_retries_rerun_a_timed_out_run(sweep):
    sweep.generate("14")
    result = sweep.run("--run-timeout", "1", "--retries", "1")
    retry = "RETRY   config_001_lenet5_adamw: timeout: killed after RUN_TIMEOUT=1 s (attempt 1)"
    assert retry in result.stdout
    (run_dir,) = sweep.dirs()[0].glob("config_001_*")
    record = json.loads((run_dir / "training_metrics.json").read_text())
    assert record["status"] == "timeout" and record["runner"]["attempts"] == 2


def test_sweep_is_found_by_its_name_under_the_results_folder(sweep):
    sweep.generate("1")
    sweep.run()
    (sweep_dir,) = sweep.dirs()
    out = run_script("sweep_monitor.py", "--results-dir", sweep.results, "--sweep", sweep_dir.name)
    assert out.returncode == 0 and f"{sweep_dir.name}: 1/1 done" in out.stdout


def test_more_than_999_configs_get_four_digit_run_names():
    from ksweep.folder.plan import plan_additions

    configs = [(f"config_{n:04d}", f"CONFIG_SEED={n}\n") for n in range(1, 1001)]
    names = [run.run_dir for run, _ in plan_additions([], configs, None)]
    assert names[0] == "config_0001" and names[-1] == "config_1000" and len(set(names)) == 1000


def test_dry_run_estimates_the_time_from_the_last_sweep_of_the_same_range_file(sweep):
    sweep.generate("1|2")
    sweep.run("--epochs", "2")
    dry = sweep.run("--dry-run", "--epochs", "6")  # other epochs: the time per epoch still says
    assert "2 of 2 runs to do, 1 at a time; about " in dry.stdout
    assert "per epoch in the newest earlier sweep of" in dry.stdout
    rows = json.loads(next(sweep.results.glob("sweep_*/sweep_summary.json")).read_text())
    earlier = sum(r["total_time"] for r in rows) / len(rows)
    per_run = float(re.search(r"at ([0-9.]+) s per run", dry.stdout).group(1))
    assert per_run == pytest.approx(3 * earlier, abs=0.15)  # 6 epochs where they had 2


@pytest.mark.slow
def test_sweep_watch_started_before_the_sweep_waits_for_it(sweep):
    sweep.generate("1")
    sweep.run()  # a finished sweep: the one a watch must not stop at
    sweep.generate("1|2")
    watch = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/sweep_monitor.py"), "--watch", "--interval", "0.2"]
        + ["--results-dir", str(sweep.results)],
        stdout=subprocess.PIPE,
        text=True,
    )
    first_line = watch.stdout.readline()
    assert "is finished; waiting for a sweep to start" in first_line
    result = sweep.run(env={"TINY_SLEEP": "1"})
    assert result.returncode == 0
    out, _ = watch.communicate(timeout=60)
    newest = max(sweep.dirs(), key=lambda p: p.stat().st_mtime)
    assert newest.name in out and watch.returncode == 0


@pytest.mark.slow
def test_the_runner_records_each_runs_peak_memory(sweep):
    sweep.generate("1|2")
    result = sweep.run(env={"TINY_ALLOC_MB": "1024"})
    assert result.returncode == 0, result.stderr
    summary = json.loads((sweep.dirs()[0] / "sweep_summary.json").read_text())
    for row in summary:
        # 1 GiB held, plus the interpreter's own few megabytes
        assert 1024 <= row["peak_rss_mb"] < 1024 + 200, row
    (run_dir,) = sweep.dirs()[0].glob("config_001_*")
    record = json.loads((run_dir / "training_metrics.json").read_text())
    assert record["runner"]["peak_rss_mb"] == summary[0]["peak_rss_mb"]
    analysis = (sweep.dirs()[0] / "sweep_analysis.txt").read_text()
    assert "Peak memory (resident, per run): 1," in analysis and " MB at most (config_00" in analysis


def test_a_full_disk_during_the_analysis_writes_the_text_report_and_says_what_is_missing(sweep, small_disk):
    mount, limit = small_disk
    if limit:
        pytest.skip("needs a small tmpfs (root): a file-size limit cannot leave room for the text only")
    sweep.generate("30|31|32|33")
    results = mount / "results"
    assert sweep.run("--output-dir", results, "--no-progress").returncode == 0
    (sweep_dir,) = results.glob("sweep_*")
    for stale in [
        sweep_dir / "sweep_analysis.txt",
        *sweep_dir.glob("*.png"),
        sweep_dir / "sweep_report.html",
    ]:
        stale.unlink(missing_ok=True)
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    (mount / "filler").write_bytes(b"\0" * max(0, free - 24 * 1024))  # room for the text, not the plots
    done = run_script("analyze_sweep.py", "--sweep", sweep_dir)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: no space left") and "sweep_analysis.txt is written" in line
    assert f"make sweep-analyze SWEEP={sweep_dir}" in line
    assert "TOP 10 CONFIGURATIONS:" in (sweep_dir / "sweep_analysis.txt").read_text()


def test_a_config_edited_after_generation_is_checked_and_named(sweep):
    sweep.generate("1|2")
    first = sweep.configs / "config_001"
    first.write_text(first.read_text().replace("CONFIG_SEED=1", "CONFIG_SEED=1\nCONFIG_LEARNING_RAT=0.5"))
    refused = sweep.run()
    assert refused.returncode == 2 and not sweep.dirs()
    (line,) = refused.stderr.strip().splitlines()
    assert f"{sweep.configs / 'config_001'}:" in line and "CONFIG_LEARNING_RAT" in line
    assert "did you mean CONFIG_LEARNING_RATE" in line and "nothing was started" in line
    text = first.read_text().replace("\nCONFIG_LEARNING_RAT=0.5", "")
    first.write_text(re.sub(r"^CONFIG_WEIGHT_DECAY=.*$", 'CONFIG_WEIGHT_DECAY="0.3"', text, flags=re.M))
    ran = sweep.run()
    assert ran.returncode == 0, ran.stderr
    assert "NOTE    1 config edited after generation (config_001): they run as edited" in ran.stdout
    assert 'CONFIG_WEIGHT_DECAY="0.3"' in next(sweep.dirs()[0].glob("config_001_*/config.txt")).read_text()


def test_without_a_terminal_the_runner_prints_progress_lines_with_an_eta(sweep):
    sweep.generate("1|2|3")
    result = sweep.run()  # stdout is a pipe: no bar
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("  PROGRESS")]
    assert lines[0].startswith("  PROGRESS 1/3 done (this command: 1 completed, 0 failed, 0 pruned)")
    assert "ETA" in lines[0]
    assert lines[-1].startswith("  PROGRESS 3/3 done (this command: 3 completed") and "ETA" not in lines[-1]


def test_a_dataset_missing_from_data_dir_is_said_once_for_all_runs_and_by_the_dry_run(tmp_path, range_file):
    from ksweep.config import trainer
    from tests.trainer_helpers import write_tiny_cifar10

    text = "CONFIG_MODEL_SELECT_LENET5=y\nCONFIG_DATASET_SELECT_CIFAR10=y\nCONFIG_SEED=1|2|3\n"
    configs = tmp_path / "sweep_configs"
    data_dir = tmp_path / "data"
    made = run_script(
        "generate_config_combinations.py", range_file(text + f'CONFIG_DATA_DIR="{data_dir}"\n'), configs
    )
    assert made.returncode == 0, made.stderr
    dry = run_script(
        "run_test_matrix.py", "--config-dir", configs, "--output-dir", tmp_path / "r", "--dry-run"
    )
    notes = [line for line in dry.stdout.splitlines() if line.startswith("NOTE: ")]
    assert notes == [
        f"NOTE: 3 of 3 runs: CIFAR-10 is not in DATA_DIR={data_dir} ({data_dir}/cifar-10-batches-py/): "
        "each run would try to download it, which fails offline (put the files there first)"
    ]
    write_tiny_cifar10(data_dir)
    texts = [p.read_text() for p in sorted(configs.glob("config_*"))]
    assert trainer.data_notes(texts) == []
