"""Searches with the built-in trainer: continuous ranges, spaces too large to list, and pruning
that gives the same result on an idle and on a loaded machine (the epoch handshake)."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.backend_helpers import records
from tests.conftest import ROOT, run_script

pytestmark = pytest.mark.slow

BASE = "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n"
CONTINUOUS = BASE + "CONFIG_LEARNING_RATE=1e-4~*3e-1\nCONFIG_WEIGHT_DECAY=0~0.1\nCONFIG_BATCH_SIZE=16~256\n"


def sweep(tmp_path, range_text: str, *flags, name="results", timeout=600):
    (tmp_path / "range").write_text(range_text)
    out = tmp_path / name
    result = run_script(
        "sweep.py", tmp_path / "range", "--output", out, "--config-dir", tmp_path / "configs",
        "--no-progress", *flags, cwd=tmp_path, timeout=timeout,
    )  # fmt: skip
    return result, out


def outcome(results) -> list[tuple]:
    """Each run as (its config, status, epochs trained, final val_acc): what must not depend on
    the machine's speed."""
    (sweep_dir,) = results.glob("sweep_*")
    rows = []
    for name, record in records(sweep_dir).items():
        config = (sweep_dir / name / "config.txt").read_text()
        rows.append((config, record["status"], len(record["epochs"]), record["final"].get("val_acc")))
    return rows


def starve(process: subprocess.Popen, every: float = 0.2) -> None:
    """Stop and continue the runner, `every` seconds each, until it ends: a runner that gets no
    CPU for long stretches, as on a loaded machine, while its trainers run on."""
    while process.poll() is None:
        time.sleep(every)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGSTOP)
        time.sleep(every)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)


def test_pruning_gives_the_same_runs_and_metrics_on_an_idle_and_a_loaded_machine(tmp_path):
    flags = ("--search", "tpe", "--samples", "8", "--pruner", "asha", "--pruner-reduction", "2",
             "--epochs", "6", "--jobs", "1")  # fmt: skip
    idle, idle_out = sweep(tmp_path, CONTINUOUS, *flags, name="idle")
    assert idle.returncode == 0, idle.stderr
    (tmp_path / "range").write_text(CONTINUOUS)
    loaded_out = tmp_path / "loaded"
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/sweep.py"), tmp_path / "range", "--output", loaded_out,
         "--config-dir", tmp_path / "configs", "--no-progress", *flags],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        starve(runner)
        assert runner.wait(timeout=600) == 0, runner.stderr.read()
    finally:
        runner.kill()
    first, second = outcome(idle_out), outcome(loaded_out)
    assert first == second
    statuses = [status for _, status, _, _ in first]
    assert "pruned" in statuses and "completed" in statuses  # the stopper had work to do
    pruned_epochs = {epochs for _, status, epochs, _ in first if status == "pruned"}
    assert pruned_epochs and max(pruned_epochs) < 6  # each stopped right after the epoch it was judged on


def test_a_continuous_search_proposes_values_inside_its_bounds_and_ranks_them(tmp_path):
    result, out = sweep(tmp_path, CONTINUOUS, "--search", "random", "--samples", "4", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert (
        "a search space (3 swept axes, continuous in CONFIG_LEARNING_RATE, CONFIG_WEIGHT_DECAY, "
        in result.stdout
    )
    assert "4 configs of a continuous space" in result.stdout
    (sweep_dir,) = out.glob("sweep_*")
    rows = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert len(rows) == 4 and all(row["status"] == "completed" for row in rows)
    for row in rows:
        assert 1e-4 <= row["CONFIG_LEARNING_RATE"] <= 3e-1
        assert 0 <= row["CONFIG_WEIGHT_DECAY"] <= 0.1
        assert isinstance(row["CONFIG_BATCH_SIZE"], int) and 16 <= row["CONFIG_BATCH_SIZE"] <= 256
    assert len({row["CONFIG_LEARNING_RATE"] for row in rows}) == 4
    assert "TOP 10 CONFIGURATIONS" in (sweep_dir / "sweep_analysis.txt").read_text()


# Ten swept axes, 16^7 x 64 x 64 x 2 = 2.2 * 10^12 configs. Three of them (weight decay and
# the Adam betas, which AdamWPrune's defaults follow) are resolved with each proposal.
HUGE = BASE + (
    "CONFIG_LEARNING_RATE=1e-4:*1.5:0.05\nCONFIG_WEIGHT_DECAY=0:0.01:0.15\nCONFIG_BATCH_SIZE=8:8:512\n"
    "CONFIG_ADAM_BETA1=0.8:0.01:0.95\nCONFIG_ADAM_BETA2=0.98:0.001:0.995\nCONFIG_MLP_HIDDEN_SIZE=16:16:1024\n"
    "CONFIG_MLP_NUM_LAYERS=1:1:16\nCONFIG_SCHEDULER_SELECT_STEP=y\nCONFIG_SCHEDULER_STEP_SIZE=1:1:16\n"
    "CONFIG_SCHEDULER_GAMMA=0.1:0.05:0.85\nCONFIG_ADAM_AMSGRAD=y|n\nCONFIG_SEED=1|2\n"
)


def test_a_space_of_a_trillion_points_starts_its_first_run_within_seconds(tmp_path):
    result, out = sweep(tmp_path, HUGE, "--search", "tpe", "--samples", "1", "--epochs", "1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "proposes 1 config of a 2199023255552-point space, each with 2 seeds" in result.stdout
    started = time.monotonic()
    result, out = sweep(tmp_path, HUGE, "--search", "tpe", "--samples", "1", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120  # listing 10^12 configs would never end
    runs = sorted(out.glob("sweep_*/config_*/training_metrics.json"))
    assert len(runs) == 2 and all(json.loads(r.read_text())["status"] == "completed" for r in runs)


def test_a_grid_refuses_a_continuous_range_naming_its_line(tmp_path):
    (tmp_path / "range").write_text(BASE + "CONFIG_WEIGHT_DECAY=0.01~0.1\n")
    result = run_script("generate_config_combinations.py", tmp_path / "range", tmp_path / "configs")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "range:4: CONFIG_WEIGHT_DECAY: ~ is a continuous range, which a grid cannot list: give a step "
        "(0.01:STEP:0.1) or search it (SEARCH=random|tpe)"
    )
    assert not (tmp_path / "configs").exists()


@pytest.mark.parametrize(
    "line, says",
    [
        (
            "CONFIG_WEIGHT_DECAY=0.1~0.01",
            "CONFIG_WEIGHT_DECAY: a continuous range's low 0.1 must be below its high 0.01",
        ),
        (
            "CONFIG_LEARNING_RATE=0~*0.1",
            "CONFIG_LEARNING_RATE: a log-uniform range (~*) needs a positive low, got 0",
        ),
        ("CONFIG_WEIGHT_DECAY=a~0.1", "CONFIG_WEIGHT_DECAY: a continuous range needs two numbers, low~high"),
        ("CONFIG_BATCH_SIZE=16.5~64", "CONFIG_BATCH_SIZE"),
        ("CONFIG_WEIGHT_DECAY=0.01|0.02~0.1", "a continuous range stands alone, not in a choice list"),
        ("CONFIG_SEED=1~100", "CONFIG_SEED: a seed is never searched (its luck is not a setting)"),
    ],
)
def test_a_bad_continuous_range_is_one_line_naming_file_and_line(tmp_path, line, says):
    result, out = sweep(tmp_path, BASE + line + "\n", "--search", "tpe", "--samples", "2")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "range:4:" in last and says in last, result.stderr
    assert not out.exists() or not list(out.glob("sweep_*"))


def test_a_search_refused_by_its_settings_leaves_sweep_configs_as_it_was(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "config_001").write_text("CONFIG_SEED=1\n")
    for flags, says in [
        (("--search", "nsga2", "--samples", "4"), "error: SEARCH=nsga2 searches two objectives"),
        (("--search", "tpe"), "error: SEARCH=tpe needs SAMPLES=N"),
        (("--search", "tpe", "--samples", "2", "--pruner", "asha", "--metric", "val_acc,total_time"),
         "error: PRUNER=asha follows one metric epoch by epoch"),
    ]:  # fmt: skip
        result, out = sweep(tmp_path, CONTINUOUS, *flags)
        assert result.returncode == 2 and result.stderr.startswith(says), result.stderr
        assert sorted(p.name for p in configs.iterdir()) == ["config_001"]  # not replaced by a space
        assert not out.exists()


def test_a_generated_search_space_run_without_search_says_how_to_run_it(tmp_path):
    (tmp_path / "range").write_text(CONTINUOUS)
    made = run_script(
        "generate_config_combinations.py", tmp_path / "range", tmp_path / "configs", "--search", "tpe"
    )
    assert made.returncode == 0, made.stderr
    result = run_script("run_test_matrix.py", "--config-dir", tmp_path / "configs", "--dry-run", cwd=tmp_path)
    assert result.returncode != 0
    space = "holds a search space (generated with SEARCH=), no configs"
    assert f"{space}: run it with `make sweep-run SEARCH=tpe SAMPLES=N`" in result.stderr
