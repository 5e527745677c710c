"""SEARCH=random|tpe and PRUNER=median|asha through the runner's CLI, with the tiny trainer
(val_acc = 90 + SEED/10, so the best point is known), the study read back with Optuna."""

import json
import os
import re
import signal

import optuna
import pytest

from tests.backend_helpers import records
from tests.conftest import run_script, wait_for

# The tiny trainer scores a run by its WEIGHT_DECAY (x 100 as if it were a seed; TINY_SCORE_FROM):
# configs differ by it. Seeds are repeats of one config, never points of a search.
WD = "CONFIG_WEIGHT_DECAY={}\n"
SPACE = WD.format("0.30:0.01:0.69")  # 40 points
SCORED = {"TINY_SCORE_FROM": "CONFIG_WEIGHT_DECAY"}


def study_of(sweep_dir):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(sweep_dir / "search/optuna.journal")))
    return optuna.load_study(study_name="ksweep", storage=storage)


def planned(sweep_dir) -> list[str]:
    return [entry["config_hash"] for entry in json.loads((sweep_dir / "plan.json").read_text())]


def search(sweep, *flags, env=None):
    result = sweep.run(*flags, "--no-progress", env={**SCORED, **(env or {})}, timeout=300)
    assert result.returncode == 0, result.stderr
    return result, sweep.dirs()[-1]


@pytest.mark.slow
def test_the_same_search_seed_proposes_the_same_points(sweep):
    sweep.generate("1", SPACE + "CONFIG_LEARNING_RATE=1e-4|1e-3|1e-2\n")
    runs = {}
    for name, flags in {
        "tpe": ("--search", "tpe", "--samples", "12"),
        "tpe again": ("--search", "tpe", "--samples", "12"),
        "random": ("--search", "random", "--samples", "12"),
        "random again": ("--search", "random", "--samples", "12"),
        "random, seed 1": ("--search", "random", "--samples", "12", "--search-seed", "1"),
    }.items():
        result, sweep_dir = search(sweep, *flags)
        runs[name] = planned(sweep_dir)
        assert len(runs[name]) == 12 == len(set(runs[name]))
        assert "SEARCH" in result.stdout and "12 configs of a 120-point space" in result.stdout
        assert f"Search: {flags[1]} (Optuna, SEARCH_SEED=" in (sweep_dir / "sweep_analysis.txt").read_text()
    assert runs["tpe"] == runs["tpe again"]
    assert runs["random"] == runs["random again"]
    assert runs["random"] != runs["random, seed 1"]


@pytest.mark.slow
def test_a_conditional_symbol_is_proposed_only_where_its_dependency_holds(sweep, range_file):
    text = (
        "CONFIG_WEIGHT_DECAY=0.30:0.01:0.33\nCONFIG_OPTIMIZER_SELECT_SGD=y|n\nCONFIG_OPTIMIZER_SELECT_ADAMW=y|n\n"
        "CONFIG_SGD_MOMENTUM=0.8|0.9\nCONFIG_ADAM_BETA1=0.85|0.9\n"
    )
    result = run_script("generate_config_combinations.py", range_file(text), sweep.configs)
    assert result.returncode == 0, result.stderr
    _, sweep_dir = search(sweep, "--search", "random", "--samples", "10")
    trials = study_of(sweep_dir).trials
    assert trials and all("CONFIG_OPTIMIZER" in t.params for t in trials)  # the choice is one parameter
    for trial in trials:
        sgd = trial.params["CONFIG_OPTIMIZER"] == "CONFIG_OPTIMIZER_SELECT_SGD"
        assert ("CONFIG_SGD_MOMENTUM" in trial.params) == sgd, trial.params
        assert ("CONFIG_ADAM_BETA1" in trial.params) == (not sgd), trial.params
    for run in records(sweep_dir).values():
        assert run["status"] == "completed"
    configs = [(sweep_dir / "plan" / f"config_{i:03d}").read_text() for i in range(1, 11)]
    for config in configs:
        assert ("CONFIG_SGD_MOMENTUM=" in config) == ("CONFIG_OPTIMIZER_SELECT_SGD=y" in config)


@pytest.mark.slow
def test_proposals_that_resolve_to_one_config_are_trained_once(sweep):
    sweep.generate("1", WD.format("0.30:0.01:0.33") + "CONFIG_LEARNING_RATE=1e-3|1e-2\n")  # 8 points
    result, sweep_dir = search(sweep, "--search", "random", "--samples", "8")
    plan = planned(sweep_dir)
    assert len(plan) == 8 == len(set(plan)) == len(records(sweep_dir))  # the whole grid, each once
    trials = study_of(sweep_dir).trials
    again = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert again, "8 random draws of 8 points repeat some: those are told, not trained"
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    result = sweep.run("--resume", "--no-progress", env=SCORED)
    assert result.returncode == 0 and "0 to do" in result.stdout


@pytest.mark.slow
def test_asha_prunes_runs_that_fall_behind_and_resume_never_redoes_them(sweep):
    good_and_bad = "0.69|0.30|0.60|0.31|0.50|0.32|0.40|0.33|0.45|0.34"  # good and bad alternate
    sweep.generate("1", WD.format(good_and_bad) + "CONFIG_NUM_EPOCHS=4\n")
    env = {"TINY_EPOCHS": "4", "TINY_EPOCH_SLEEP": "0.1"}
    result, sweep_dir = search(sweep, "--pruner", "asha", "--pruner-reduction", "2", env=env)
    assert "PRUNER  asha on val_acc, from epoch 1, keeping 1/2 at each rung" in result.stdout
    runs = records(sweep_dir)
    pruned = {name: r for name, r in runs.items() if r["status"] == "pruned"}
    assert pruned and "config_001_lenet5_adamw" not in pruned  # the best run is never pruned
    for name, run in pruned.items():
        assert run["error"].startswith("PRUNER=asha: val_acc ") and " at epoch " in run["error"], name
        assert 1 <= len(run["epochs"]) < 4  # its history so far is kept
    summary = {row["run_dir"]: row for row in json.loads((sweep_dir / "sweep_summary.json").read_text())}
    assert all(summary[name]["success"] is False for name in pruned)
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    top = analysis.split("TOP 10 CONFIGURATIONS:")[1].split("PRUNED RUNS")[0]
    assert not any(name[: len("config_001")] in top for name in pruned)  # never ranked
    assert "PRUNED RUNS" in analysis
    assert "Pruner: asha, from epoch 1, keeping 1/2 at each rung" in analysis
    trained = sum(len(r["epochs"]) for r in runs.values())
    assert f"Epochs: {trained} trained of 40 had every run gone to its end ({40 - trained} saved" in analysis
    assert (sweep_dir / "search_progress.png").stat().st_size > 0
    before = {name: (sweep_dir / name / "training_metrics.json").stat().st_mtime_ns for name in pruned}
    resumed = sweep.run("--resume", "--no-progress", env={**SCORED, **env})
    assert resumed.returncode == 0 and "0 to do" in resumed.stdout
    assert {n: (sweep_dir / n / "training_metrics.json").stat().st_mtime_ns for n in pruned} == before


@pytest.mark.slow
def test_a_killed_tpe_sweep_resumed_ends_with_samples_runs_and_no_trial_left_running(sweep):
    sweep.generate("1", SPACE)
    env = {**SCORED, "TINY_EPOCHS": "3", "TINY_EPOCH_SLEEP": "0.3"}
    flags = ("--search", "tpe", "--samples", "10", "--jobs", "2", "--pruner", "median", "--no-progress")
    driver = sweep.popen(*flags, env=env)
    wait_for(lambda: sweep.dirs() and len(planned(sweep.dirs()[0])) >= 5, 120)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    sweep_dir = sweep.dirs()[0]
    monitor = run_script("sweep_monitor.py", "--results-dir", sweep.results).stdout
    assert "/10 done" in monitor, monitor  # the search's SAMPLES, not the runs proposed so far
    resumed = run_script(
        "run_test_matrix.py", "--resume", "--output-dir", sweep.results, "--no-progress", env=env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(planned(sweep_dir)) == 10 == len(set(planned(sweep_dir)))
    assert {r["status"] for r in records(sweep_dir).values()} <= {"completed", "pruned"}
    states = {t.state for t in study_of(sweep_dir).trials}
    assert optuna.trial.TrialState.RUNNING not in states


@pytest.mark.parametrize(
    "flags, says",
    [
        (("--search", "tpe"), "error: SEARCH=tpe needs SAMPLES=N (the number of configs to propose)"),
        (
            ("--pruner", "median", "--metric", "test_acc"),
            "error: PRUNER=median follows METRIC epoch by epoch: METRIC=test_acc is not in a run's per-epoch",
        ),
        (
            ("--pruner", "asha", "--metric", "val_acc,total_time"),
            "error: PRUNER=asha follows one metric epoch by epoch: METRIC=val_acc,total_time names two",
        ),
        (
            ("--search", "nsga2", "--samples", "4"),
            "error: SEARCH=nsga2 searches two objectives: METRIC=val_acc names one",
        ),
        (
            ("--metric", "val_acc,total_time,val_loss"),
            "error: METRIC=val_acc,total_time,val_loss names 3 metrics",
        ),
    ],
)
def test_a_search_that_cannot_run_is_one_line_before_any_sweep_folder(sweep, flags, says):
    sweep.generate("30|31")
    result = sweep.run(*flags)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(says)
    assert not sweep.results.exists() or not sweep.dirs()


def test_a_dry_run_of_a_search_says_how_many_of_the_grid_it_will_propose_and_writes_nothing(sweep):
    sweep.generate("1", SPACE)
    result = sweep.run("--search", "tpe", "--samples", "7", "--pruner", "asha", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "SEARCH=tpe (SEARCH_SEED=0) proposes 7 configs of a 40-point space" in result.stdout
    assert "7 of 7 runs to do" in result.stdout
    assert not sweep.results.exists()


@pytest.mark.slow  # whole sweeps through the runner: make test-all
def test_a_run_that_trained_every_epoch_is_never_pruned_and_is_ranked(sweep):
    # Six one-epoch runs in descending quality, each lingering after its last epoch (a test
    # pass, a checkpoint save): ASHA's rung is their last epoch, and none may be pruned there.
    sweep.generate("1", WD.format("0.69|0.60|0.50|0.45|0.40|0.35") + "CONFIG_NUM_EPOCHS=1\n")
    env = {"TINY_EPOCHS": "1", "TINY_EPOCH_SLEEP": "0.6"}
    _, sweep_dir = search(sweep, "--pruner", "asha", env=env)
    assert set(sweep.statuses().values()) == {"completed"}
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    top = analysis.split("TOP 10 CONFIGURATIONS:")[1].split("=" * 20)[0]
    assert len(re.findall(r"^\s+\d+=?\s+config_\d+", top, re.M)) == 6


@pytest.mark.slow  # whole sweeps through the runner: make test-all
def test_a_stale_optuna_lock_with_a_relative_path_does_not_hold_a_resume(sweep):
    sweep.generate("1", WD.format("0.30:0.01:0.35"))
    relative = os.path.relpath(sweep.results)  # a sweep named by a relative path, as SWEEP= often is
    search(sweep, "--search", "tpe", "--samples", "3")
    (sweep_dir,) = sweep.dirs()
    journal = sweep_dir / "search/optuna.journal"
    lock = journal.with_name("optuna.journal.lock")
    os.symlink(os.path.relpath(journal), lock)  # what a runner killed inside Optuna's lock leaves
    flags = ("--resume", "--output-dir", relative, "--samples", "4", "--no-progress")
    resumed = run_script("run_test_matrix.py", *flags, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert len(planned(sweep_dir)) == 4 and not lock.exists()


@pytest.mark.slow  # whole sweeps through the runner: make test-all
def test_with_repeats_a_pruner_stops_a_configs_seeds_together_and_ranks_none_on_lucky_survivors(sweep):
    decays = "0.69|0.30|0.60|0.31|0.50|0.32"  # good and bad configs alternate
    (sweep.configs.parent / "range").write_text(WD.format(decays) + "CONFIG_NUM_EPOCHS=4\n")
    made = run_script(
        "generate_config_combinations.py", sweep.configs.parent / "range", sweep.configs, "--repeats", "3"
    )
    assert made.returncode == 0, made.stderr
    env = {"TINY_EPOCHS": "4", "TINY_EPOCH_SLEEP": "0.1"}
    _, sweep_dir = search(sweep, "--pruner", "asha", "--pruner-reduction", "2", "--jobs", "1", env=env)
    runs = records(sweep_dir)
    by_config: dict[str, set[str]] = {}
    for name, record in runs.items():
        config = (sweep_dir / name / "config.txt").read_text()
        decay = re.search(r'^CONFIG_WEIGHT_DECAY="?([0-9.]+)', config, re.M).group(1)
        by_config.setdefault(decay, set()).add(record["status"])
    assert all(len(statuses) == 1 for statuses in by_config.values()), by_config  # one fate per config
    assert by_config["0.69"] == {"completed"} and {"pruned"} in by_config.values()
    unstarted = [
        r for r in runs.values() if "stopped with its config before it started" in (r["error"] or "")
    ]
    assert unstarted and all(r["epochs"] == [] for r in unstarted)
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    assert "(mean ± sd of 3 seeds)" in analysis.split("Best config over seeds:")[1].splitlines()[0]


@pytest.mark.slow  # whole sweeps through the runner: make test-all
@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_a_search_of_two_objectives_tells_optuna_both_and_the_analysis_draws_their_front(sweep, sampler):
    sweep.generate("1", SPACE)
    result, sweep_dir = search(
        sweep, "--search", sampler, "--samples", "6", "--metric", "val_acc,total_time", "--mode", "max,min"
    )
    study = study_of(sweep_dir)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) >= 6 and all(len(t.values) == 2 for t in done)  # a repeated proposal is told too
    assert {t.values[0] for t in done} == {r["final"]["val_acc"] for r in records(sweep_dir).values()}
    assert "PARETO FRONT" in (sweep_dir / "sweep_analysis.txt").read_text()
    assert (sweep_dir / "pareto_front.png").is_file()


@pytest.mark.slow  # whole sweeps through the runner: make test-all
def test_a_two_objective_search_resumed_without_metric_goes_on_with_both(sweep):
    sweep.generate("1", SPACE)
    _, sweep_dir = search(sweep, "--search", "tpe", "--samples", "4", "--metric", "val_acc,total_time")
    resumed = sweep.run("--resume", "--output-dir", sweep.results, "--samples", "6", "--no-progress",
                        env=SCORED)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "did not match the number of the objectives" not in resumed.stderr
    trials = study_of(sweep_dir).trials
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert all(len(t.values) == 2 for t in trials) and len(planned(sweep_dir)) == 6
    assert "PARETO FRONT" in (sweep_dir / "sweep_analysis.txt").read_text()
