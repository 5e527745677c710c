"""The run stage's parts, each tested directly: the sweep folder, its lock, settling a run's
end, the observers, the scheduler (with the real local launcher and the tiny trainer) and
the search strategy. The end-to-end tests go through the commands; these say which part broke."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ksweep.contract.records import config_values
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.events import Observer, Observers
from ksweep.folder.lock import LockError, SweepLock, lock_holder
from ksweep.folder.sweep import SweepFolder
from ksweep.launchers.base import LocalLauncher
from ksweep.options import resolve
from ksweep.run.scheduler import Scheduler
from ksweep.run.settle import Outcome, settle, worth_retrying
from ksweep.run.stage import OPTIONS
from tests.conftest import ROOT

TINY = f"{sys.executable} {ROOT / 'tests/data/tiny_trainer.py'}"


def config(seed: int) -> tuple[str, str]:
    return (f"config_{seed:03d}", f"CONFIG_SEED={seed}\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n")


def folder_with(tmp_path, seeds: list[int]) -> SweepFolder:
    folder = SweepFolder(tmp_path / "sweep")
    folder.path.mkdir()
    folder.extend([config(s) for s in seeds], epochs=None)
    folder.record(None, {})
    return folder


class Recorder(Observer):
    def __init__(self):
        self.events = []

    def sweep_started(self, total, done):
        self.events.append(("sweep_started", total, done))

    def run_started(self, run, attempt):
        self.events.append(("run_started", run.run_dir, attempt))

    def run_retrying(self, run, metrics, attempt):
        self.events.append(("run_retrying", run.run_dir, metrics["status"]))

    def run_finished(self, run, metrics):
        self.events.append(("run_finished", run.run_dir, metrics["status"]))


def schedule(folder: SweepFolder, env: dict | None = None, stop=lambda: False, **options) -> Recorder:
    values = resolve(OPTIONS, {"train_command": TINY, **options})
    recorder = Recorder()
    launcher = LocalLauncher(values.train_command, values.jobs, values.jobs_per_gpu)
    try:
        Scheduler(folder, list(folder.plan), values, launcher, Observers([recorder]), env or {}, stop).run()
    finally:
        launcher.close()
    return recorder


def finished(recorder: Recorder) -> dict[str, str]:
    return {e[1].split("_")[1]: e[2] for e in recorder.events if e[0] == "run_finished"}


# --- the sweep folder and its lock ----------------------------------------------------------


def test_the_folder_plans_each_config_once_by_its_hash(tmp_path):
    folder = folder_with(tmp_path, [1, 2])
    assert folder.extend([config(2), config(3)], epochs=None) == 1
    again = SweepFolder(folder.path)
    assert [r.run_dir for r in again.plan] == [r.run_dir for r in folder.plan]
    assert [r.number for r in again.plan] == [1, 2, 3]
    assert again.text(again.plan[2]) == config(3)[1]


def test_the_folder_records_what_it_keeps_and_reads_it_back(tmp_path):
    folder = folder_with(tmp_path, [1])
    folder.record(None, {"jobs": 2, "epochs": None})
    assert SweepFolder(folder.path).options == {"jobs": 2, "epochs": None}
    assert json.loads(folder.paths.manifest.read_text())["count"] == 1


def test_taking_the_lock_reads_what_another_runner_wrote(tmp_path):
    folder = folder_with(tmp_path, [1])
    SweepFolder(folder.path).extend([config(2)], epochs=None)  # another command, before us
    with folder.locked():
        assert len(folder.plan) == 2


def test_a_second_lock_is_refused_naming_the_holder(tmp_path):
    folder = folder_with(tmp_path, [1])
    with SweepLock(folder.path):
        assert lock_holder(folder.path) == os.getpid()
        refused = pytest.raises(LockError, match=rf"another runner \(pid {os.getpid()}\)")
        with refused, SweepLock(folder.path):
            pass
    assert lock_holder(folder.path) is None


# --- settling a run's end -----------------------------------------------------------------


def test_a_run_that_exits_without_a_record_is_failed_with_its_exit(tmp_path):
    paths = SweepPaths(tmp_path).run("config_001_x")
    paths.root.mkdir()
    paths.log.write_text("line 1\nSegmentation fault\n")
    metrics = settle(paths, Outcome(exit_code=-11, wall_seconds=0.5, attempts=1, config_hash="abc"))
    assert metrics["status"] == "failed" and "SIGSEGV" in metrics["error"]
    assert "Segmentation fault" in metrics["log_tail"]
    assert json.loads(paths.metrics.read_text())["status"] == "failed"
    assert worth_retrying(metrics)


def test_a_completed_record_stays_completed_whatever_signal_came_after(tmp_path):
    paths = SweepPaths(tmp_path).run("config_001_x")
    paths.root.mkdir()
    record = {"status": "completed", "epochs": [], "final": {"val_acc": 91.0}, "error": None, "env": {}}
    paths.metrics.write_text(json.dumps(record))
    metrics = settle(paths, Outcome(-15, 1.0, 1, "abc", killed_for="interrupted"))
    assert metrics["status"] == "completed" and metrics["final"]["val_acc"] == 91.0


def test_a_run_the_runner_killed_for_its_timeout_is_timeout_and_not_retried_as_refused(tmp_path):
    paths = SweepPaths(tmp_path).run("config_001_x")
    paths.root.mkdir()
    metrics = settle(paths, Outcome(-9, 3.0, 1, "abc", killed_for="timeout", timeout=3.0))
    assert metrics["status"] == "timeout" and "3" in metrics["error"]
    refused = settle(paths, Outcome(2, 0.1, 1, "abc"))
    assert refused["status"] == "failed" and not worth_retrying(refused)


# --- observers --------------------------------------------------------------------------------


def test_observers_hand_each_event_to_every_observer_in_order():
    first, second = Recorder(), Recorder()
    fan = Observers([first, second])
    fan.sweep_started(3, 1)
    fan.idle()  # an event neither overrides: nothing breaks
    assert first.events == second.events == [("sweep_started", 3, 1)]


# --- the scheduler ----------------------------------------------------------------------------


def test_the_scheduler_runs_every_planned_run_and_tells_the_observers(tmp_path):
    folder = folder_with(tmp_path, [1, 2, 15])
    recorder = schedule(folder, jobs=2)
    assert finished(recorder) == {"001": "completed", "002": "completed", "003": "failed"}
    for run in folder.plan:
        started = recorder.events.index(("run_started", run.run_dir, 1))
        assert started < next(
            i for i, e in enumerate(recorder.events) if e[:2] == ("run_finished", run.run_dir)
        )


def test_the_scheduler_retries_a_failure_and_says_so(tmp_path):
    folder = folder_with(tmp_path, [15])
    recorder = schedule(folder, retries=1)
    assert ("run_retrying", folder.plan[0].run_dir, "failed") in recorder.events
    assert ("run_started", folder.plan[0].run_dir, 2) in recorder.events


def test_the_scheduler_times_out_a_hung_run(tmp_path):
    folder = folder_with(tmp_path, [14, 1])
    recorder = schedule(folder, run_timeout=2)
    assert finished(recorder) == {"001": "timeout", "002": "completed"}


def test_the_scheduler_starts_nothing_more_after_a_failure_when_asked(tmp_path):
    folder = folder_with(tmp_path, [15, 1, 2])
    recorder = schedule(folder, jobs=1, stop_on_failure=True)
    assert finished(recorder) == {"001": "failed"}


def test_a_stop_request_interrupts_the_running_runs(tmp_path):
    folder = folder_with(tmp_path, [30, 31, 1])  # TINY_HANG_FROM=30: the first two hang

    def both_running():
        return all(folder.paths.run(run.run_dir).metrics.exists() for run in folder.plan[:2])

    recorder = schedule(folder, env={"TINY_HANG_FROM": "30"}, jobs=2, stop=both_running)
    assert finished(recorder) == {"001": "interrupted", "002": "interrupted"}  # the third never started


# --- the search strategy -------------------------------------------------------------------


def search_folder(tmp_path, name: str, seeds: str = "1", decay: str = "0.01:0.01:0.08") -> SweepFolder:
    from ksweep.search import space

    text = f"CONFIG_SEED={seeds}\nCONFIG_WEIGHT_DECAY={decay}\nCONFIG_LEARNING_RATE=1e-4|1e-2\n"
    folder = SweepFolder(tmp_path / name)
    folder.path.mkdir()
    space.build(text, "range").save(folder.path)
    return folder


def proposals(
    tmp_path, name: str, seeds: str = "1", decay: str = "0.01:0.01:0.08", **options
) -> list[list[str]]:
    """The configs a strategy proposes, each as the texts of its runs (its seeds)."""
    pytest.importorskip("optuna")
    from ksweep.search.strategy import make_strategy

    folder = search_folder(tmp_path, name, seeds, decay)
    values = resolve(OPTIONS, {"samples": 6, **options})
    chosen = make_strategy(folder, values, None)
    configs = []
    while runs := chosen.propose():
        configs.append([folder.text(run) for run in runs])
        for run in runs:
            chosen.started(run)
            decay = float(config_values(folder.text(run))["CONFIG_WEIGHT_DECAY"])
            chosen.finished(run, {"status": "completed", "final": {"val_acc": 90.0 + 100 * decay}})
    return configs


@pytest.mark.parametrize("search", ["random", "tpe"])
def test_the_same_search_seed_proposes_the_same_points_and_another_seed_others(tmp_path, search):
    first = proposals(tmp_path, "a", search=search)
    assert len(first) == 6 == len({texts[0] for texts in first}) and all(len(t) == 1 for t in first)
    assert proposals(tmp_path, "b", search=search) == first
    assert proposals(tmp_path, "c", search=search, search_seed=1) != first


def test_a_search_stops_at_samples_and_the_grid_strategy_proposes_nothing(tmp_path):
    from ksweep.search.strategy import make_strategy

    assert len(proposals(tmp_path, "a", search="random", samples=3)) == 3
    grid = make_strategy(folder_with(tmp_path, [1]), resolve(OPTIONS, {}), None)
    assert grid.propose() == [] and not grid.watches_epochs


@pytest.mark.parametrize("search", ["random", "tpe"])
def test_a_search_with_repeats_proposes_configs_each_with_all_its_seeds(tmp_path, search):
    configs = proposals(tmp_path, "a", seeds="7|8|9", search=search, samples=4)
    assert len(configs) == 4  # SAMPLES counts configs
    for texts in configs:
        seeds = sorted(config_values(text)["CONFIG_SEED"] for text in texts)
        assert seeds == ["7", "8", "9"]  # every seed, never the seed as a searched parameter
        assert len({config_values(text)["CONFIG_WEIGHT_DECAY"] for text in texts}) == 1


def test_a_pruned_runs_final_metrics_are_its_last_epochs_and_it_stays_unranked(tmp_path):
    paths = SweepPaths(tmp_path).run("config_001_x")
    paths.root.mkdir()
    epochs = [{"epoch": 1, "val_acc": 61.5, "val_loss": 1.2}, {"epoch": 2, "val_acc": 70.25, "val_loss": 0.9}]
    paths.metrics.write_text(json.dumps({"status": "running", "epochs": epochs, "final": {}, "env": {}}))
    why = "PRUNER=asha: val_acc 70.25 at epoch 2, not in the best 1/3"
    metrics = settle(paths, Outcome(-15, 2.0, 1, "abc", killed_for="pruned", pruned=why))
    assert metrics["status"] == "pruned" and metrics["error"] == why
    assert metrics["final"] == {"val_acc": 70.25, "val_loss": 0.9}
    assert not worth_retrying(metrics)


@pytest.mark.parametrize("search", ["random", "tpe"])
def test_a_continuous_range_is_sampled_within_its_bounds_never_on_a_grid(tmp_path, search):
    configs = proposals(tmp_path, "a", decay="0.01~0.1", search=search, samples=8)
    decays = [float(config_values(texts[0])["CONFIG_WEIGHT_DECAY"]) for texts in configs]
    assert len(configs) == 8 == len(set(decays))
    assert all(0.01 <= d <= 0.1 for d in decays)
    assert any(round(d * 100) != d * 100 for d in decays)  # not the 0.01-step grid
    assert proposals(tmp_path, "b", decay="0.01~0.1", search=search, samples=8) == configs


def test_a_log_uniform_range_spreads_over_its_decades(tmp_path):
    configs = proposals(tmp_path, "a", decay="1e-5~*1e-1", search="random", samples=12)
    decays = [float(config_values(texts[0])["CONFIG_WEIGHT_DECAY"]) for texts in configs]
    assert all(1e-5 <= d <= 1e-1 for d in decays)
    assert min(decays) < 1e-3  # uniform over 1e-5..1e-1 would almost never go below 1e-3 in 12 draws


def test_a_search_asked_for_more_than_a_small_space_holds_proposes_each_config_once(tmp_path):
    configs = proposals(tmp_path, "a", decay="0.01|0.02", search="tpe", samples=10)
    assert len(configs) == 4 == len({texts[0] for texts in configs})  # 2 decays x 2 learning rates
