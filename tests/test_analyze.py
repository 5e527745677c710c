"""The analyze stage on hand-made sweeps with known metrics: records, ranking, report, plots."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from ksweep.analysis.analyze import load_sweep, parameter_effects, write_report
from ksweep.analysis.plots import log_scale
from ksweep.analysis.ranking import AnalyzeError, rank_records
from ksweep.contract.project import PROJECT_ROOT, NotFound
from ksweep.folder.paths import newest_sweep
from ksweep.run.summary import collect_records, last_log_line, write_summary
from tests.analyze_helpers import make_grid_sweep, make_run

SEED_HEADINGS = (
    "Hyperparameter Sweep Analysis",
    "Total configurations tested:",
    "BEST CONFIGURATION:",
    "Config file:",
    "Test Accuracy:",
    "Final Sparsity:",
    "Training Time:",
    "Hyperparameters:",
    "TOP 10 CONFIGURATIONS:",
    "FAILED TESTS:",
)


@pytest.fixture
def sweep(tmp_path):
    return make_grid_sweep(tmp_path)


def section(text: str, heading: str) -> str:
    """The lines of a report section: from its heading to the next rule."""
    start = text.index(heading)
    end = text.find("=" * 60, start)
    return text[start : end if end > 0 else None]


# --- records ------------------------------------------------------------------------


def test_summary_has_one_flat_record_per_run_with_the_varied_symbols(sweep):
    records = write_summary(sweep)
    assert [r["config_file"] for r in records] == [f"config_{n:03d}" for n in range(1, 9)]
    first = records[0]
    assert first["run_dir"] == "config_001_lenet5_adamw"
    assert first["CONFIG_LEARNING_RATE"] == 0.001 and first["CONFIG_BATCH_SIZE"] == 32
    assert "CONFIG_NUM_EPOCHS" not in first  # the same in every run: not varied
    assert first["val_acc"] == 91.0 and first["total_time"] == 10.0 and first["epochs"] == 3
    assert json.loads((sweep / "sweep_summary.json").read_text()) == records


def test_seed_pandas_snippet_runs_unchanged_and_gives_the_top_5_by_test_acc(sweep, monkeypatch):
    write_summary(sweep)
    monkeypatch.chdir(sweep)
    snippet = (
        "import json\nimport pandas as pd\n\n"
        "with open('sweep_summary.json', 'r') as f:\n    results = json.load(f)\n\n"
        "df = pd.DataFrame(results)\nbest = df.nlargest(5, 'test_acc')\n"
        "shown = best[['config_file', 'test_acc', 'final_sparsity']]\n"
    )
    scope: dict = {}
    exec(snippet, scope)
    assert list(scope["shown"]["config_file"]) == [
        "config_004",
        "config_002",
        "config_001",
        "config_003",
        "config_008",
    ]
    assert list(scope["shown"]["test_acc"]) == [92.5, 92.0, 90.5, 87.5, 74.0]


def test_running_and_interrupted_runs_are_counted_but_not_ranked(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, val_acc=50.0)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, status="running", val_acc=99.0)
    make_run(sweep, 3, {"CONFIG_SEED": "3"}, status="interrupted", val_acc=99.0)
    records = collect_records(sweep)
    assert [r["val_acc"] for r in records] == [50.0, None, None]  # no final metrics, never 0
    assert [r["config_file"] for r in rank_records(records)] == ["config_001"]
    text = write_report(sweep, plots=False).path.read_text()
    assert "Total configurations tested: 1 finished of 3 run folder(s)" in text
    # No runner holds the sweep's lock: its `running` record is an interrupted run.
    assert "By status: completed 1, interrupted 2" in text
    unfinished = section(text, "UNFINISHED RUNS")
    assert "config_002  interrupted after 3 epoch(s)" in unfinished
    assert "config_003  interrupted after 3 epoch(s)" in unfinished
    assert "config_002" not in section(text, "TOP 10 CONFIGURATIONS:")


def test_a_run_without_test_split_keeps_test_acc_null(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, test_acc=None)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, test_acc=80.0)
    records = write_summary(sweep)
    assert records[0]["test_acc"] is None
    assert json.loads((sweep / "sweep_summary.json").read_text())[0]["test_acc"] is None
    text = write_report(sweep, plots=False).path.read_text()
    assert "Test Accuracy: n/a (no test split)" in text


def test_a_started_run_that_wrote_nothing_is_interrupted_once_its_runner_is_gone(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    started = sweep / "config_002_lenet5_adamw"
    started.mkdir()
    (started / "config.txt").write_text("CONFIG_SEED=2\n")
    records = collect_records(sweep)
    assert records[1]["status"] == "interrupted" and records[1]["success"] is False
    assert records[1]["config_hash"]  # computed from config.txt when nobody recorded it
    assert "started" not in records[1]


def test_values_that_look_numeric_are_numbers_and_others_stay_text(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(
        sweep, 1, {"CONFIG_LEARNING_RATE": '"1e-05"', "CONFIG_ADAM_AMSGRAD": "y", "CONFIG_DEVICE": '"cpu"'}
    )
    make_run(
        sweep, 2, {"CONFIG_LEARNING_RATE": '"0.1"', "CONFIG_ADAM_AMSGRAD": "n", "CONFIG_DEVICE": '"auto"'}
    )
    first, second = collect_records(sweep)
    assert first["CONFIG_LEARNING_RATE"] == 1e-05 and isinstance(second["CONFIG_LEARNING_RATE"], float)
    assert (first["CONFIG_ADAM_AMSGRAD"], second["CONFIG_ADAM_AMSGRAD"]) == ("y", "n")
    assert first["CONFIG_DEVICE"] == "cpu"


def test_total_time_falls_back_to_the_trainers_seconds_without_the_runner_block(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, wall_seconds=None)
    assert collect_records(sweep)[0]["total_time"] == 8.0


def test_a_rewritten_run_is_read_again(tmp_path):
    sweep = tmp_path / "sweep_x"
    run = make_run(sweep, 1, status="running")
    assert collect_records(sweep)[0]["status"] == "interrupted"  # no runner holds the lock
    metrics = json.loads((run / "training_metrics.json").read_text())
    metrics.update(status="completed", final={"val_acc": 77.0})
    tmp = run / "new.json"
    tmp.write_text(json.dumps(metrics))
    os.replace(tmp, run / "training_metrics.json")  # as write_atomic does
    assert collect_records(sweep)[0]["val_acc"] == 77.0


def test_last_log_line_skips_trailing_blank_lines(sweep):
    assert last_log_line(sweep / "config_005_lenet5_adamw") == "epoch 2: loss nan"


def test_last_log_line_skips_a_closing_status_line_that_only_repeats_the_record(tmp_path):
    run = make_run(
        tmp_path / "sweep_x",
        1,
        status="failed",
        log="epoch 1 ...\nerror: pruning warmup too late\nstatus failed\n",
    )
    assert last_log_line(run) == "error: pruning warmup too late"


def test_load_sweep_gives_one_row_per_run_with_params_and_metrics(sweep):
    df = load_sweep(sweep)
    assert len(df) == 8
    assert {"CONFIG_LEARNING_RATE", "CONFIG_BATCH_SIZE", "val_acc", "test_acc", "status"} <= set(df.columns)
    assert df.groupby("CONFIG_BATCH_SIZE")["val_acc"].mean().to_dict() == {32: 83.0, 64: 87.0}


# --- ranking and report -------------------------------------------------------------


def test_a_tie_for_best_is_said_and_goes_to_the_lower_val_loss(sweep):
    result = write_report(sweep, plots=False)
    text = result.path.read_text()
    assert result.best["config_file"] == "config_004"  # ties with config_002 at 93.0; val_loss 0.20 < 0.25
    assert [r["config_file"] for r in result.ties] == ["config_002"]
    assert "Config file: config_004 (tied with 1 other(s) at 93.00: config_002; chosen by val_loss" in text
    assert "Ties: equal val_acc is a tie (marked `=`); within one, the lower val_loss ranks first" in text
    top = section(text, "TOP 10 CONFIGURATIONS:")
    places = re.findall(r"^\s*(\d+=?)\s+(config_\d+)", top, re.MULTILINE)
    assert places == [
        ("1=", "config_004"),
        ("1=", "config_002"),
        ("3", "config_001"),
        ("4", "config_003"),
    ] + [
        ("5", "config_008"),
        ("6", "config_007"),
    ]


def test_val_loss_without_a_mode_ranks_the_lowest_first_and_the_header_says_so(sweep):
    result = write_report(sweep, "val_loss", plots=False)
    assert result.mode == "min"
    assert "Ranked by: val_loss (min: lowest wins; the default for this metric)" in result.path.read_text()


def test_best_and_top_10_by_val_loss_min(sweep):
    result = write_report(sweep, "val_loss", "min", plots=False)
    text = result.path.read_text()
    assert result.best["config_file"] == "config_004"
    assert "Ranked by val_loss (min): 0.2000" in text
    order = re.findall(r"^\s*\d+=?\s+(config_\d+)", section(text, "TOP 10 CONFIGURATIONS:"), re.MULTILINE)
    assert order == ["config_004", "config_002", "config_001", "config_003", "config_008", "config_007"]


def test_report_keeps_the_seed_headings_and_labels(sweep):
    text = write_report(sweep, plots=False).path.read_text()
    for heading in SEED_HEADINGS:
        assert heading in text
    best = section(text, "BEST CONFIGURATION:")
    assert "Config file: config_004" in best
    assert "Test Accuracy: 92.50%" in best
    assert "Final Sparsity: 0.0%" in best
    assert "Training Time: 10.0 s" in best
    assert "Units: accuracies in %, sparsity as a fraction of weights (0-1)" in text


def test_best_lists_swept_symbols_then_those_differing_from_defaults_and_the_rerun_command(sweep):
    text = write_report(sweep, plots=False).path.read_text()
    hyper = text[text.index("Hyperparameters:") : text.index("Reproduce:")]
    lines = [line.strip() for line in hyper.splitlines()[1:] if line.strip()]
    assert lines == [
        "# swept in this sweep:",
        "CONFIG_BATCH_SIZE=64",
        "CONFIG_LEARNING_RATE=0.01",
        "# fixed, different from the Kconfig default:",
        "CONFIG_NUM_EPOCHS=3",  # Kconfig default is 5; LENET5 and DIGITS are defaults
        "CONFIG_OPTIMIZER_SELECT_ADAMW=y",  # the default is AdamWPrune
    ]
    config = f"{sweep.resolve()}/config_004_lenet5_adamw/config.txt"
    assert f"cd {PROJECT_ROOT} && mkdir -p /tmp/ksweep_rerun/" in text
    assert f"{sys.executable} -m models.train --config {config} --output-dir /tmp/ksweep_rerun/" in text


def test_failed_runs_show_status_reason_and_last_log_line(sweep):
    failed = section(write_report(sweep, plots=False).path.read_text(), "FAILED TESTS:")
    assert "config_005  diverged" in failed
    assert "Reason: loss is NaN at epoch 2" in failed
    assert "Last log line: epoch 2: loss nan" in failed
    assert "config_006" not in failed  # running is not failed


def test_parameter_effects_give_exact_per_value_statistics(sweep):
    records = collect_records(sweep)
    lr = parameter_effects(records, "val_acc", "max")["CONFIG_LEARNING_RATE"]
    assert list(lr.index) == [0.001, 0.01, 0.1, 1.0]
    assert lr["mean"].tolist()[:3] == [92.0, 90.5, 72.5]
    assert lr["best"].tolist()[:3] == [93.0, 93.0, 75.0]
    assert lr["worst"].tolist()[:3] == [91.0, 88.0, 70.0]
    assert lr.loc[1.0, "runs"] == 2 and lr.loc[1.0, "ranked"] == 0  # diverged + running
    loss = parameter_effects(records, "val_loss", "min")["CONFIG_BATCH_SIZE"]
    assert loss.loc[32].tolist()[1:] == [3, pytest.approx(1.6 / 3), 0.3, 0.9]
    assert loss.loc[64].tolist()[1:] == [3, pytest.approx(1.25 / 3), 0.2, 0.8]


def test_report_effects_section_shows_means_largest_spread_first(sweep):
    effects = section(write_report(sweep, plots=False).path.read_text(), "PARAMETER EFFECTS:")
    assert effects.index("LEARNING_RATE") < effects.index("BATCH_SIZE")
    assert re.search(r"^0\.001\s+2\s+2\s+92\.00\s+93\.00\s+91\.00$", effects, re.MULTILINE)
    assert re.search(r"^32\s+4\s+3\s+83\.00\s+91\.00\s+70\.00$", effects, re.MULTILINE)


def test_header_names_the_range_file_when_the_manifest_exists(sweep):
    assert "Range file:" not in write_report(sweep, plots=False).path.read_text()
    manifest = {"range_file": "defconfigs/lenet5-lr-range", "count": 10, "axes": {}}
    (sweep / "sweep.json").write_text(json.dumps(manifest))
    text = write_report(sweep, plots=False).path.read_text()
    assert "Range file: defconfigs/lenet5-lr-range" in text
    assert "Planned: 10 (2 not started)" in text


def test_unknown_metric_names_the_available_ones_and_bad_mode_is_refused(sweep):
    with pytest.raises(AnalyzeError, match=r"unknown metric 'acc'; available: .*val_acc"):
        write_report(sweep, "acc", plots=False)
    with pytest.raises(AnalyzeError, match="bad mode 'best'"):
        write_report(sweep, "val_acc", "best", plots=False)


def test_an_empty_sweep_is_an_error(tmp_path):
    (tmp_path / "sweep_x").mkdir()
    with pytest.raises(AnalyzeError, match="empty sweep"):
        write_report(tmp_path / "sweep_x")


def test_a_sweep_without_completed_runs_still_gets_a_report(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, status="failed", error="CUDA out of memory", log="RuntimeError: CUDA out of memory\n")
    result = write_report(sweep)
    assert result.best is None and result.plots == ()
    assert "No completed run has a val_acc value" in result.path.read_text()


def test_newest_sweep_is_the_latest_timestamp(tmp_path):
    make_run(tmp_path / "sweep_20250101_120000", 1)
    make_run(tmp_path / "sweep_20250301_080000", 1)
    assert newest_sweep(tmp_path).name == "sweep_20250301_080000"
    with pytest.raises(NotFound, match="no sweep found"):
        newest_sweep(tmp_path / "missing")


# --- files beside the report --------------------------------------------------------


def test_plots_are_written_as_non_trivial_pngs(sweep):
    result = write_report(sweep)
    assert {p.name for p in result.plots} == {"learning_curves.png", "parameter_effects.png"}
    for path in result.plots:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_log_axis_for_values_spanning_decades_or_evenly_spaced_in_log():
    assert log_scale([1e-4, 1e-3, 1e-2])
    assert log_scale([0.001, 0.1])
    assert log_scale([16, 32, 64])
    assert not log_scale([0.03, 0.05, 0.07, 0.09])
    assert not log_scale([32, 64])
    assert not log_scale([0, 0.1, 1])


def test_best_model_is_linked_from_the_sweep_dir(sweep):
    (sweep / "config_004_lenet5_adamw" / "best_model.pt").write_bytes(b"weights")
    result = write_report(sweep, plots=False)
    link = sweep / "best_model.pt"
    assert result.best_model == link and link.is_symlink()
    assert os.readlink(link) == "config_004_lenet5_adamw/best_model.pt"  # relative: the sweep can move
    assert link.read_bytes() == b"weights"


def test_a_symbol_inactive_in_some_runs_is_null_and_shown_as_unset(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SCHEDULER_STEP_SIZE": "5"}, val_acc=80.0)
    make_run(sweep, 2, {"CONFIG_SCHEDULER_STEP_SIZE": "10"}, val_acc=85.0)
    make_run(sweep, 3, {}, val_acc=90.0)
    records = collect_records(sweep)
    assert [r["CONFIG_SCHEDULER_STEP_SIZE"] for r in records] == [5, 10, None]
    assert parameter_effects(records)["CONFIG_SCHEDULER_STEP_SIZE"].index.tolist() == [5, 10, None]
    effects = section(write_report(sweep, plots=False).path.read_text(), "PARAMETER EFFECTS:")
    assert re.search(r"^\(unset\)\s+1\s+1\s+90\.00", effects, re.MULTILINE)


def test_sparsity_is_a_fraction_in_the_summary_and_a_percentage_in_the_report(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, sparsity=0.7)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, sparsity=0.5, val_acc=10.0)
    assert collect_records(sweep)[0]["final_sparsity"] == 0.7
    assert "Final Sparsity: 70.0%" in write_report(sweep, plots=False).path.read_text()


def test_failures_are_counted_by_reason(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    for n in (2, 3):
        make_run(sweep, n, {"CONFIG_SEED": str(n)}, status="failed", error="CUDA out of memory")
    make_run(sweep, 4, {"CONFIG_SEED": "4"}, status="timeout", error="no progress for 600 s")
    (sweep / "config_002_lenet5_adamw" / "output.log").write_text(
        "error: CUDA out of memory\nstatus failed\n"
    )
    failed = section(write_report(sweep, plots=False).path.read_text(), "FAILED TESTS:")
    assert "Last log line: (the reason, as above)" in failed  # not the long line twice
    assert re.search(r"^\s+2  failed: CUDA out of memory$", failed, re.MULTILINE)
    assert re.search(r"^\s+1  timeout: no progress for 600 s$", failed, re.MULTILINE)


def test_a_nan_metric_from_another_trainer_is_null_not_ranked(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, val_acc=50.0)
    run = make_run(sweep, 2, {"CONFIG_SEED": "2"})
    path = run / "training_metrics.json"
    metrics = json.loads(path.read_text())
    metrics["final"]["val_acc"] = float("nan")
    path.write_text(json.dumps(metrics))  # Python writes NaN, as a trainer using json.dump would
    assert "NaN" in path.read_text()
    records = write_summary(sweep)
    assert records[1]["val_acc"] is None
    assert [r["config_file"] for r in rank_records(records)] == ["config_001"]
