"""Two metrics (METRIC=val_acc,total_time): how METRIC and MODE read them, their refusals, and the
Pareto front of runs (ksweep.analysis.pareto)."""

from __future__ import annotations

import pytest

from ksweep.analysis.pareto import pareto_front
from ksweep.options import OptionError
from ksweep.run import options as run_options
from ksweep.run.summary import MetricError, check_objectives, parse_objectives
from tests.conftest import run_make

BOTH = [("val_acc", "max"), ("total_time", "min")]

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


def test_make_refuses_a_mode_that_is_not_max_or_min_in_a_list(tmp_path):
    result = run_make("sweep-analyze", f"SWEEP={tmp_path}", "METRIC=val_acc,total_time", "MODE=max,best")
    assert result.returncode != 0
    assert "MODE=max,best: expected max or min for each entry (nothing was started)" in result.stderr


# --- the front ------------------------------------------------------------------------------


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
