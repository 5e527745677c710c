"""Two metrics (METRIC=val_acc,total_time): their refusals, the Pareto front of runs and of configs
by their means, and where the analysis shows it (sweep_analysis.txt, pareto_front.png, the HTML)."""

from __future__ import annotations

import json

import pytest
from matplotlib.image import imread
from PIL import Image

from ksweep.analysis.analyze import write_report
from ksweep.analysis.leaderboard import leaderboard
from ksweep.analysis.pareto import dominates, pareto_front
from ksweep.analysis.plots import PARETO_FILE
from ksweep.analysis.ranking import AnalyzeError
from ksweep.options import OptionError
from ksweep.run import options as run_options
from ksweep.run.summary import MetricError, check_objectives, parse_objectives
from tests.analyze_helpers import make_grid_sweep, make_run
from tests.conftest import run_make, run_script

BOTH = [("val_acc", "max"), ("total_time", "min")]

# number, val_acc, wall seconds (total_time): 1 and 2 tie on both; 3 is dominated by 1 (as
# accurate, slower), 6 by 7; 4 is the fastest that completed; 5 failed, faster still.
RUNS = [(1, 93.0, 20.0), (2, 93.0, 20.0), (3, 93.0, 30.0), (4, 80.0, 5.0), (6, 85.0, 25.0), (7, 90.0, 10.0)]


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("=" * 60, start)
    return text[start : end if end > 0 else None]


def front_rows(text: str) -> list[list[str]]:
    """The table rows of the PARETO FRONT section, split on whitespace."""
    lines = section(text, "PARETO FRONT:").splitlines()
    below = next(i for i, line in enumerate(lines) if line.startswith("---  ")) + 1  # under the headers
    return [line.split() for line in lines[below:] if line.strip()]


@pytest.fixture
def hand_made(tmp_path):
    sweep = tmp_path / "sweep_20250101_120000"
    for number, acc, seconds in RUNS:
        values = {"CONFIG_LEARNING_RATE": f'"{number / 1000}"'}
        make_run(sweep, number, values, val_acc=acc, wall_seconds=seconds)
    make_run(sweep, 5, {"CONFIG_LEARNING_RATE": '"1.0"'}, status="failed", error="boom", wall_seconds=1.0)
    return sweep


# --- METRIC and MODE ------------------------------------------------------------------------


def test_one_metric_reads_as_before_and_two_take_a_mode_each_by_default():
    assert parse_objectives("val_loss", None) == [("val_loss", "min")]
    assert parse_objectives("val_acc", "min") == [("val_acc", "min")]
    assert parse_objectives("val_acc,total_time", None) == BOTH
    assert parse_objectives("val_acc, total_time", "") == BOTH  # MODE= unset, as Make passes it
    assert parse_objectives("val_acc,total_time", "max,max") == [("val_acc", "max"), ("total_time", "max")]
    assert check_objectives("val_acc,total_time", None) == "max,min"
    assert check_objectives("val_loss", None) == "min"


@pytest.mark.parametrize(
    "metric, mode, message",
    [
        ("val_acc,total_time,val_loss", None, "METRIC=val_acc,total_time,val_loss names 3 metrics: give one"),
        ("val_acc,val_acc", None, "METRIC=val_acc,val_acc names val_acc twice"),
        ("val_acc,total_time", "max", "MODE=max is one mode for two metrics (METRIC=val_acc,total_time): "
                                      "give one per metric, e.g. MODE=max,min"),
        ("val_acc", "max,min", "MODE=max,min has 2 modes for one metric (METRIC=val_acc): give one per"),
        ("val_acc,total_time", "max,min,max", "MODE=max,min,max has 3 modes for two metrics"),
        ("val_acc,total_time", "max,best", "bad mode 'best': use max or min"),
        ("val_acc,", None, "METRIC=val_acc, has an empty name"),
    ],
)  # fmt: skip
def test_a_metric_list_that_cannot_rank_is_refused_in_one_line(metric, mode, message):
    with pytest.raises(MetricError) as caught:
        parse_objectives(metric, mode)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_each_of_two_metrics_is_checked_as_one_is():
    with pytest.raises(MetricError, match=r"unknown metric 'totl_time' \(did you mean total_time\?\)"):
        check_objectives("val_acc,totl_time", None)
    with pytest.raises(MetricError, match="CONFIG_SEED is a Kconfig symbol"):
        check_objectives("val_acc,CONFIG_SEED", None)


def test_mode_takes_one_entry_per_metric_as_a_make_variable_and_a_flag():
    mode = next(o for o in run_options.OPTIONS if o.name == "mode")
    assert mode.parse("max,min") == "max,min" and mode.usage() == "MODE=max|min[,max|min]"
    with pytest.raises(OptionError, match="MODE=highest: expected max or min$"):
        mode.parse("highest")
    with pytest.raises(OptionError, match="MODE=max,best: expected max or min for each entry"):
        mode.parse("max,best")


@pytest.mark.parametrize(
    "flags, message",
    [
        (("--metric", "val_acc,total_time,val_loss"), "error: METRIC=val_acc,total_time,val_loss names 3"),
        (("--metric", "val_acc,val_acc"), "error: METRIC=val_acc,val_acc names val_acc twice"),
        (("--metric", "val_acc,total_time", "--mode", "max"), "error: MODE=max is one mode for two metrics"),
    ],
)  # fmt: skip
def test_the_analyze_and_run_commands_refuse_a_bad_metric_list_in_one_line(
    hand_made, tmp_path, flags, message
):
    analyzed = run_script("analyze_sweep.py", "--sweep", hand_made, *flags)
    assert analyzed.returncode == 1 and analyzed.stderr.startswith(message)
    nowhere = ("--config-dir", tmp_path / "none", "--output-dir", tmp_path)
    ran = run_script("run_test_matrix.py", *nowhere, *flags)  # refused before it looks for configs
    assert ran.returncode == 2 and ran.stderr.startswith(message)
    for refusal in (analyzed.stderr, ran.stderr):
        assert len(refusal.strip().splitlines()) == 1, refusal


def test_make_refuses_a_mode_that_is_not_max_or_min_in_a_list(tmp_path):
    result = run_make("sweep-analyze", f"SWEEP={tmp_path}", "METRIC=val_acc,total_time", "MODE=max,best")
    assert result.returncode != 0
    assert "MODE=max,best: expected max or min for each entry (nothing was started)" in result.stderr


# --- the front ------------------------------------------------------------------------------


def test_the_front_is_exactly_the_runs_no_completed_run_beats_on_both(hand_made):
    result = write_report(hand_made, "val_acc,total_time", plots=False)
    front = result.front
    assert [p["config_file"] for p in front.front] == ["config_001", "config_002", "config_007", "config_004"]
    assert len(front.points) == 6  # the failed run takes no part
    for point in front.points:  # the definition, pair by pair
        beaten = any(dominates(other, point, BOTH) for other in front.points)
        assert beaten == (point not in front.front)
    rows = front_rows(result.path.read_text())
    assert [row[:4] for row in rows] == [
        ["1", "config_001", "93.00", "20.0"],  # a tie on both: neither beats the other
        ["2", "config_002", "93.00", "20.0"],
        ["3", "config_007", "90.00", "10.0"],
        ["4", "config_004", "80.00", "5.0"],
    ]
    assert rows[0][4] == "0.001"  # its swept value, as config.txt writes it


def test_a_failed_run_never_joins_the_front_even_with_the_best_values():
    records = [
        {"config_file": "config_001", "success": True, "val_acc": 90.0, "total_time": 10.0},
        {"config_file": "config_002", "success": False, "val_acc": 99.0, "total_time": 1.0},
        {"config_file": "config_003", "success": True, "val_acc": 95.0, "total_time": None},
    ]
    assert [p["config_file"] for p in pareto_front(records, BOTH).front] == ["config_001"]


def test_values_equal_to_ten_significant_digits_are_a_tie_on_the_front():
    records = [
        {"config_file": "config_001", "success": True, "val_acc": 0.1 + 0.2, "total_time": 5.0},
        {"config_file": "config_002", "success": True, "val_acc": 0.3, "total_time": 5.0},
    ]
    assert [p["config_file"] for p in pareto_front(records, BOTH).front] == ["config_001", "config_002"]


def test_each_metric_is_judged_in_its_own_mode(hand_made):
    # total_time max: slower is better, so config_003 (93 %, 30 s) now beats every other run.
    result = write_report(hand_made, "val_acc,total_time", "max,max", plots=False)
    assert [p["config_file"] for p in result.front.front] == ["config_003"]
    result = write_report(hand_made, "total_time,val_acc", plots=False)  # min, max: time ranks
    assert [p["config_file"] for p in result.front.front] == [
        "config_004",
        "config_007",
        "config_001",
        "config_002",
    ]
    assert result.metric == "total_time" and result.best["config_file"] == "config_004"


def test_with_repeats_the_front_is_of_configs_by_their_means(tmp_path):
    sweep = tmp_path / "sweep_20250101_120000"
    # lr 1e-3: accurate and slow; 1e-2: a lucky seed (99 %, 1 s) but a poor mean; 1e-1: fast.
    table = {
        "1e-3": [(92.0, 20.0), (94.0, 22.0)],
        "1e-2": [(99.0, 1.0), (70.0, 40.0)],
        "1e-1": [(85.0, 5.0), (87.0, 7.0)],
    }
    number = 0
    for lr, seeds in table.items():
        for seed, (acc, seconds) in enumerate(seeds, 1):
            number += 1
            values = {"CONFIG_LEARNING_RATE": f'"{lr}"', "CONFIG_SEED": str(seed)}
            make_run(sweep, number, values, val_acc=acc, wall_seconds=seconds)
    result = write_report(sweep, "val_acc,total_time", plots=False)
    front = result.front
    assert front.by_config and len(front.points) == 3
    assert [(p["CONFIG_LEARNING_RATE"], p["val_acc"], p["total_time"], p["n"]) for p in front.front] == [
        (0.001, 93.0, 21.0, 2),
        (0.1, 86.0, 6.0, 2),
    ]
    text = result.path.read_text()
    assert "2 of 3 configs on the Pareto front of val_acc (max) and total_time (min)" in text
    rows = front_rows(text)
    assert rows == [
        ["1", "93.00", "21.0", "2", "1e-3", "config_002,", "config_001"],
        ["2", "86.00", "6.0", "2", "1e-1", "config_006,", "config_005"],
    ]


# --- where the analysis shows it ------------------------------------------------------------


def test_two_metrics_rank_by_the_first_and_add_the_front_section_png_and_html(hand_made):
    one = write_report(hand_made, "val_acc")
    one_text = one.path.read_text()
    two = write_report(hand_made, "val_acc,total_time")
    text = two.path.read_text()
    assert (two.metric, two.mode, two.objectives) == ("val_acc", "max", BOTH)
    assert two.best == one.best  # the ranking, BEST and best_model.pt are the first metric's
    assert section(text, "TOP 10 CONFIGURATIONS:") == section(one_text, "TOP 10 CONFIGURATIONS:")
    assert "PARETO FRONT:" in text and "PARETO FRONT" not in one_text
    assert "Also: 4 of 6 runs on the Pareto front of val_acc (max) and total_time (min)" in text
    png = hand_made / PARETO_FILE
    assert png in two.plots and f"Plot: {png}" in text
    legend = Image.open(png).info["Description"]
    assert "all 6 completed runs" in legend and "Pareto front: 4 runs" in legend
    assert imread(png).std() > 0.05
    page = (hand_made / "sweep_report.html").read_text()
    block = page[
        page.index("<h2>Pareto front</h2>") : page.index("<h2>", page.index("<h2>Pareto front</h2>") + 5)
    ]
    assert "<img alt='pareto_front'" in block and block.count("<tr") == 1 + 4
    assert "href='config_007_lenet5_adamw/'" in block
    assert page.count("<img alt='pareto_front'") == 1  # in its section, not again under Plots


def test_one_metric_writes_no_front_and_removes_a_stale_one(hand_made):
    write_report(hand_made, "val_acc,total_time")
    assert (hand_made / PARETO_FILE).is_file()
    result = write_report(hand_made, "val_acc")
    assert result.front is None and result.objectives == [("val_acc", "max")]
    assert not (hand_made / PARETO_FILE).exists()
    assert "Pareto" not in (hand_made / "sweep_report.html").read_text()
    assert "Pareto" not in result.path.read_text()


def test_an_unknown_second_metric_is_refused_naming_the_available_ones(hand_made):
    with pytest.raises(AnalyzeError, match="unknown metric 'val_f1'; available: "):
        write_report(hand_made, "val_acc,val_f1")


def test_the_leaderboard_ranks_by_the_first_of_two_metrics(hand_made):
    root = hand_made.parent
    make_grid_sweep(root, "sweep_20250102_120000")
    assert leaderboard(root, "val_acc,total_time") == leaderboard(root, "val_acc")


def test_the_analyze_command_names_the_front(hand_made):
    done = run_script(
        "analyze_sweep.py", "--sweep", hand_made, "--metric", "val_acc,total_time", "--no-plots"
    )
    assert done.returncode == 0, done.stderr
    assert "best: config_001 val_acc 93.00%" in done.stdout
    assert "pareto: 4 of 6 runs on the Pareto front of val_acc (max) and total_time (min)" in done.stdout


# --- a real sweep ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_tiny_sweep_run_and_analyzed_with_two_metrics_shows_its_front(sweep):
    sweep.generate("1:1:5")  # val_acc 90.1 .. 90.5 (the tiny trainer's), total_time as each run took
    ran = sweep.run("--no-progress", "--metric", "val_acc,total_time")
    assert ran.returncode == 0, ran.stderr
    assert "  BEST    config_005_" in ran.stdout and "  PARETO  " in ran.stdout
    sweep_dir = sweep.dirs()[-1]
    analyzed = run_make("sweep-analyze", f"SWEEP={sweep_dir}", "METRIC=val_acc,total_time")
    assert analyzed.returncode == 0, analyzed.stderr
    assert "best: config_005 val_acc 90.50%" in analyzed.stdout and "pareto: " in analyzed.stdout
    text = (sweep_dir / "sweep_analysis.txt").read_text()
    assert "PARETO FRONT:" in text and (sweep_dir / PARETO_FILE).is_file()
    records = [r for r in json.loads((sweep_dir / "sweep_summary.json").read_text()) if r["success"]]
    unbeaten = [r["config_file"] for r in records if not any(dominates(o, r, BOTH) for o in records)]
    listed = [row[1] for row in front_rows(text)]
    assert listed[0] == "config_005" and sorted(listed) == sorted(unbeaten)
