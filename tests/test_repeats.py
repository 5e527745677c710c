"""Repeats (ksweep/analysis/repeats.py): groups, their means, deviations and intervals, on known numbers."""

import json
import math
import re

import pytest

from ksweep.analysis.repeats import group_runs, has_repeats, more_repeats

AXES = ["CONFIG_LEARNING_RATE", "CONFIG_SEED"]


def runs(table):
    """{lr: [val_acc per seed]} → ranked run records (best first), as the analysis has them."""
    out, number = [], 0
    for lr, values in table.items():
        for seed, value in enumerate(values, start=1):
            number += 1
            out.append(
                {
                    "config_file": f"config_{number:03d}",
                    "CONFIG_LEARNING_RATE": lr,
                    "CONFIG_SEED": seed,
                    "val_acc": value,
                }
            )
    return sorted(out, key=lambda r: -r["val_acc"])


def test_group_mean_standard_deviation_and_interval_are_exact():
    grouping = group_runs(
        runs({"1e-3": [90.0, 92.0, 94.0], "1e-2": [80.0, 81.0, 82.0]}), AXES, "val_acc", True
    )
    best, other = grouping.groups
    assert best.key == ("1e-3",) and best.n == 3 and best.mean == 92.0 and best.sd == 2.0
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t(0.975, 2) x sd / sqrt(n)
    assert best.interval == pytest.approx((92.0 - half, 92.0 + half), abs=1e-9)
    assert other.mean == 81.0 and other.sd == 1.0


def test_two_clear_winners_are_told_apart_from_the_rest_but_not_from_each_other():
    table = {
        "a": [95.0, 95.2, 94.8, 95.1],
        "b": [95.1, 94.9, 95.0, 95.2],
        "c": [90.0, 90.3, 89.8, 90.1],
        "d": [85.0, 85.4, 84.9, 85.2],
    }
    grouping = group_runs(runs(table), AXES, "val_acc", True)
    assert sorted(g.key[0] for g in grouping.best_set) == ["a", "b"]
    assert [g.place for g in grouping.groups] == ["1", "2≈", "3", "4"]


def test_configs_with_the_same_mean_share_a_place_and_identical_seeds_give_no_interval():
    table = {"a": [98.04, 98.04], "b": [97.0, 99.08], "c": [90.0, 91.0]}
    grouping = group_runs(runs(table), AXES, "val_acc", True)
    assert [g.place for g in grouping.groups] == ["1=", "1=", "3"]
    identical = next(g for g in grouping.groups if g.key == ("a",))
    assert identical.interval_text() == "n/a (identical values)"
    assert next(g for g in grouping.groups if g.key == ("c",)).interval_text() == "[84.15, 96.85]"


def test_configs_that_differ_only_by_noise_are_all_indistinguishable():
    table = {"a": [90.0, 95.0, 85.0], "b": [91.0, 84.0, 93.0], "c": [88.0, 92.0, 86.0]}
    grouping = group_runs(runs(table), AXES, "val_acc", True)
    assert len(grouping.best_set) == 3
    assert grouping.separate_top_two is not None and grouping.separate_top_two > 10


def test_the_repeats_that_would_separate_two_configs_follow_the_t_test_sizing():
    grouping = group_runs(runs({"a": [91.0, 93.0], "b": [90.0, 92.0]}), AXES, "val_acc", True)
    a, b = grouping.groups
    # sd 1.414 each, difference 1: 2 x (1.96 + 0.8416)^2 x 2 / 1 = 31.4 → 32 runs, 30 more
    assert more_repeats(a, b) == 30


def test_a_seed_axis_is_recognised_as_repeats():
    records = runs({"1e-3": [90.0, 91.0], "1e-2": [80.0, 81.0]})
    assert has_repeats(records, AXES)
    assert not has_repeats(records, ["CONFIG_LEARNING_RATE"])
    one_each = [{"CONFIG_LEARNING_RATE": lr, "CONFIG_SEED": s} for lr, s in (("a", 1), ("b", 2))]
    assert not has_repeats(one_each, AXES)  # the seed varies, but no config ran twice
    seeds_only = [{"CONFIG_SEED": s} for s in (1, 2, 3)]
    assert not has_repeats(seeds_only, ["CONFIG_SEED"])  # one config: nothing to compare


@pytest.mark.slow
def test_repeats_give_each_config_k_seeds_and_the_report_ranks_configs_by_their_mean(sweep, range_file):
    from tests.conftest import run_script

    text = "CONFIG_SEED=30\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_LEARNING_RATE=1e-3|1e-2\n"
    made = run_script("generate_config_combinations.py", range_file(text), sweep.configs, "--repeats", "3")
    assert made.returncode == 0, made.stderr
    seeds = [
        line
        for i in range(1, 7)
        for line in (sweep.configs / f"config_{i:03d}").read_text().splitlines()
        if line.startswith("CONFIG_SEED=")
    ]
    assert seeds == [f"CONFIG_SEED={s}" for s in (30, 31, 32, 30, 31, 32)]  # a config's seeds together
    result = sweep.run("--no-progress")
    assert result.returncode == 0, result.stderr
    analysis = (sweep.dirs()[0] / "sweep_analysis.txt").read_text()
    # val_acc = 90 + seed / 10 in the tiny trainer: 93.1 ± 0.1 for either learning rate
    assert (
        "Best config over seeds: LEARNING_RATE=1e-3: val_acc 93.10 ± 0.10 (mean ± sd of 3 seeds), "
        "95% CI [92.85, 93.35]" in analysis
    )
    # The other learning rate has the very same mean: a tie, not "cannot be told apart".
    assert (
        "Tied with it at the same mean: 1 config(s): LEARNING_RATE=1e-2 (first by config number)" in analysis
    )
    assert "CONFIGS BY MEAN OVER SEEDS:" in analysis
    table = analysis.split("CONFIGS BY MEAN OVER SEEDS:")[1].split("=" * 20)[0]
    assert [line.split()[0] for line in table.splitlines() if line.strip().startswith("1=")] == ["1=", "1="]
    effects = analysis.split("PARAMETER EFFECTS:")[1]
    assert re.search(r"value\s+configs\s+ranked\s+mean", effects)  # a row per config, by its mean
    assert (sweep.dirs()[0] / "means_over_seeds.png").stat().st_size > 0  # means and intervals drawn
    # The run shown, its hyperparameters and its Reproduce line are one run: the best config's best seed.
    best = analysis.split("Its best seed:")[1].split("===")[0]
    assert "Config file: config_003" in best and "CONFIG_LEARNING_RATE=1e-3" in best
    assert "config_003_lenet5_adamw/config.txt" in best


def test_repeats_and_a_swept_seed_are_one_setting(sweep, range_file):
    from tests.conftest import run_script

    made = run_script(
        "generate_config_combinations.py", range_file("CONFIG_SEED=1|2\n"), sweep.configs, "--repeats", "3"
    )
    assert made.returncode == 1
    assert (
        "CONFIG_SEED: REPEATS=3 and a swept seed are one setting (the seeds are the repeats): give one"
        in made.stderr
    )


@pytest.mark.slow
def test_without_repeats_the_report_says_what_one_validation_example_is_worth(tmp_path, range_file):
    from tests.conftest import run_script

    text = "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=1\n"
    text += "CONFIG_LEARNING_RATE=1e-3|3e-3\n"
    configs, results = tmp_path / "configs", tmp_path / "results"
    assert run_script("generate_config_combinations.py", range_file(text), configs).returncode == 0
    ran = run_script(
        "run_test_matrix.py", "--config-dir", configs, "--output-dir", results, "--no-progress", timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    analysis = (next(results.glob("sweep_*")) / "sweep_analysis.txt").read_text()
    assert (
        "Noise: the validation split has 153 examples, so one example is 0.65 points of accuracy" in analysis
    )
    assert "CONFIGS BY MEAN OVER SEEDS" not in analysis


@pytest.mark.slow
def test_promote_takes_the_top_configs_by_their_mean_not_the_luckiest_seed(sweep, range_file, tmp_path):
    from tests.conftest import run_script

    # Seeds 30-32 for each learning rate; the tiny trainer scores by seed alone, so the
    # luckiest run (seed 32) exists under both rates. TOP=1 must promote one config's 3 seeds.
    text = "CONFIG_SEED=30\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_LEARNING_RATE=1e-3|1e-2\n"
    assert (
        run_script(
            "generate_config_combinations.py", range_file(text), sweep.configs, "--repeats", "3"
        ).returncode
        == 0
    )
    assert sweep.run("--no-progress").returncode == 0
    out = tmp_path / "promoted"
    result = run_script("sweep_promote.py", "--sweep", sweep.dirs()[0], "--top", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    promoted = sorted(p.name for p in out.glob("config_*"))
    assert promoted == ["config_001", "config_002", "config_003"]
    texts = [(out / name).read_text() for name in promoted]
    assert {line for t in texts for line in t.splitlines() if line.startswith("CONFIG_LEARNING_RATE")} == {
        'CONFIG_LEARNING_RATE="1e-3"'
    }
    assert sorted(line for t in texts for line in t.splitlines() if line.startswith("CONFIG_SEED=")) == [
        "CONFIG_SEED=30",
        "CONFIG_SEED=31",
        "CONFIG_SEED=32",
    ]


def test_the_best_config_by_mean_is_reported_even_when_another_config_has_the_luckiest_seed(tmp_path):
    from ksweep.analysis.analyze import write_report
    from tests.analyze_helpers import make_run

    sweep = tmp_path / "sweep_x"
    scores = {"1e-3": [95.0, 95.2, 95.1], "1e-2": [90.0, 96.0, 89.0]}  # 1e-2 holds the single best run
    number = 0
    for lr, values in scores.items():
        for seed, value in enumerate(values, start=1):
            number += 1
            make_run(sweep, number, {"CONFIG_LEARNING_RATE": lr, "CONFIG_SEED": str(seed)}, val_acc=value)
    result = write_report(sweep, plots=False)
    text = result.path.read_text()
    assert result.best["config_file"] == "config_002"  # 1e-3's best seed, not 1e-2's lucky 96.0
    assert "Best config over seeds: LEARNING_RATE=1e-3: val_acc 95.10 ± 0.10" in text
    best = text.split("Its best seed:")[1].split("===")[0]
    assert "Config file: config_002" in best and "config_002_lenet5_adamw/config.txt" in best


def test_with_repeats_the_learning_curves_are_the_top_configs_means_not_lucky_seeds(tmp_path):
    from PIL import Image

    from ksweep.analysis.plots import plot_config_curves

    # config a: seeds at 90 and 96 (mean 93); config b: seeds at 94 and 94 (mean 94)
    table = {"a": [90.0, 96.0], "b": [94.0, 94.0]}
    records = runs(table)
    for record in records:
        record["run_dir"] = record["config_file"] + "_mlp_adamw"
        run = tmp_path / record["run_dir"]
        run.mkdir()
        epochs = [{"epoch": 1, "val_acc": record["val_acc"] - 5}, {"epoch": 2, "val_acc": record["val_acc"]}]
        (run / "training_metrics.json").write_text(json.dumps({"status": "completed", "epochs": epochs}))
    grouping = group_runs(records, AXES, "val_acc", True)
    png = plot_config_curves(tmp_path, grouping, "val_acc", "max")
    legend = Image.open(png).info["Description"].splitlines()
    assert legend[0].startswith("#1") and "94.00, mean of 2" in legend[0]  # b, though a has the best seed
    assert legend[1].startswith("#2") and "93.00, mean of 2" in legend[1]
