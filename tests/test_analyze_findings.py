"""What a user reads after a sweep: ties, reruns, promotion, axes, warnings, and the summary writer."""

from __future__ import annotations

import json
import re
import sys

import pytest

from ksweep.analysis.analyze import load_sweep, write_report
from ksweep.analysis.leaderboard import compare, leaderboard
from ksweep.analysis.promote import promote
from ksweep.contract.project import PROJECT_ROOT
from ksweep.run.summary import (
    MetricError,
    SummaryWriter,
    check_metric,
    default_mode,
    format_duration,
    write_summary,
)
from tests.analyze_helpers import make_run


def report_text(sweep, *args, **kwargs) -> str:
    return write_report(sweep, *args, plots=False, **kwargs).path.read_text()


def write_manifest(sweep, **fields) -> None:
    (sweep / "sweep.json").write_text(json.dumps(fields))


# --- ranking: ties and the default mode ------------------------------------------------------


def test_eight_runs_tied_for_best_are_named_and_promote_says_how_it_cut_the_tie(tmp_path):
    sweep = tmp_path / "sweep_x"
    for n in range(1, 9):
        make_run(sweep, n, {"CONFIG_SEED": str(n)}, val_acc=99.35, val_loss=0.02 + n / 1000)
    make_run(sweep, 9, {"CONFIG_SEED": "9"}, val_acc=98.0)
    text = report_text(sweep)
    assert "Config file: config_001 (tied with 7 other(s) at 99.35: config_002, config_003" in text
    top = text[text.index("TOP 10") :]
    assert re.findall(r"^\s*(\d+=?)\s+config_", top, re.MULTILINE)[:9] == ["1="] * 8 + ["9"]
    promotion = promote(sweep, top=3, out_dir=tmp_path / "out")
    assert promotion.tie_note.startswith("the TOP=3 cut falls inside a tie: 8 runs share val_acc 99.35")
    assert "left out config_004, config_005" in promotion.tie_note
    assert promotion.tie_note in (tmp_path / "out" / "combinations_summary.txt").read_text()


def test_default_mode_is_min_for_losses_and_times_and_max_otherwise():
    assert [default_mode(m) for m in ("val_loss", "loss", "test_loss", "total_time", "time")] == ["min"] * 5
    assert [default_mode(m) for m in ("val_acc", "test_acc", "val_f1")] == ["max"] * 3


def test_check_metric_before_any_run_refuses_typos_and_symbols_and_warns_on_custom_keys():
    assert check_metric("val_loss", None) == "min" and check_metric("val_loss", "") == "min"
    assert check_metric("val_acc", "min") == "min"
    with pytest.raises(MetricError, match=r"unknown metric 'val_acuracy' \(did you mean val_acc\?\)"):
        check_metric("val_acuracy", None)
    with pytest.raises(MetricError, match="is a Kconfig symbol"):
        check_metric("CONFIG_LEARNING_RATE", None)
    with pytest.raises(MetricError, match="bad mode 'best'"):
        check_metric("val_acc", "best")
    with pytest.raises(MetricError, match="not a metric"):
        check_metric("status", None)
    warnings: list[str] = []
    assert check_metric("val_f1", None, warn=warnings.append) == "max"
    assert "val_f1" in warnings[0] and "final" in warnings[0]


def test_one_duration_format():
    assert [format_duration(s) for s in (7, 3723.4, None)] == ["0:00:07", "1:02:03", "n/a"]


# --- the rerun command, threads and the trainer ------------------------------------------------


def test_reproduce_line_pins_the_runs_threads_and_runs_from_any_directory(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, threads=1, val_acc=99.0)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, threads=2)
    text = report_text(sweep)
    line = text.splitlines()[
        text.splitlines().index(next(x for x in text.splitlines() if x.startswith("Reproduce:"))) + 1
    ]
    config = sweep.resolve() / "config_001_lenet5_adamw" / "config.txt"
    assert line.strip().startswith(f"cd {PROJECT_ROOT} && mkdir -p /tmp/ksweep_rerun/sweep_x_config_001 && ")
    assert f" && KSWEEP_THREADS=1 {sys.executable} -m models.train" in line
    assert f"--config {config} --output-dir /tmp/ksweep_rerun/sweep_x_config_001" in line
    assert "Threads: runs DIFFER in thread count (env.threads): 2 in 1 run(s), 1 in 1 run(s)" in text


def test_reproduce_line_of_a_custom_trainer_sweep_runs_that_trainer(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    make_run(sweep, 2, {"CONFIG_SEED": "2"})
    write_manifest(sweep, options={"train_command": "python tests/data/tiny_trainer.py"})
    text = report_text(sweep)
    assert "Trainer: python tests/data/tiny_trainer.py (TRAIN_COMMAND)" in text
    assert " && python tests/data/tiny_trainer.py --config " in text and f"cd {PROJECT_ROOT} && " in text
    assert "-m models.train" not in text


def test_promote_keeps_the_sweeps_trainer_in_generate_json_and_keeps_epochs_by_default(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, val_acc=80.0)
    write_manifest(sweep, options={"train_command": "python my_train.py"})
    out = tmp_path / "sweep_configs"
    promotion = promote(sweep, top=1, out_dir=out)
    provenance = json.loads((out / "generate.json").read_text())
    assert provenance["train_command"] == "python my_train.py" and provenance["epochs"] is None
    assert provenance["promoted_from"] == str(sweep.resolve()) and provenance["count"] == 1
    assert provenance["runs"] == [str((sweep / "config_001_lenet5_adamw").resolve())]
    assert {"created", "range_file", "range_text", "axes"} <= set(provenance)
    assert "epochs as in the source runs (3)" in (out / "combinations_summary.txt").read_text()
    assert promotion.train_command == "python my_train.py"


def test_the_promote_hint_trains_longer_than_the_sweep_did(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, epochs=40)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, epochs=40)
    assert "TOP=3 EPOCHS=120 && make sweep-run" in report_text(sweep)


def test_compare_and_leaderboard_flag_other_trainers_and_thread_counts(tmp_path):
    a, b = tmp_path / "sweep_a", tmp_path / "sweep_b"
    for sweep, threads in ((a, 2), (b, 1)):
        make_run(sweep, 1, {"CONFIG_SEED": "1"}, threads=threads)
        make_run(sweep, 2, {"CONFIG_SEED": "2"}, threads=threads, val_acc=50.0)
    write_manifest(b, options={"train_command": "python my_train.py"}, range_file="defconfigs/r")
    text = compare(a, b)
    assert "warning: the sweeps ran different trainers (A: built-in, B: python my_train.py)" in text
    assert "warning: the runs differ in thread count (env.threads; A: 2, B: 1)" in text
    board = leaderboard(tmp_path, top=4)
    assert "range file / trainer" in board and "r / python my_train.py" in board
    assert "different range files or trainers" in board and "different thread counts" in board


# --- swept axes --------------------------------------------------------------------------------


def test_an_interrupted_sweep_still_lists_every_swept_symbol_and_spread_is_na(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_LEARNING_RATE": '"3e-4"', "CONFIG_WEIGHT_DECAY": '"0"'})
    make_run(
        sweep, 2, {"CONFIG_LEARNING_RATE": '"3e-4"', "CONFIG_WEIGHT_DECAY": '"0.01"'}, status="interrupted"
    )
    write_manifest(
        sweep, axes={"CONFIG_LEARNING_RATE": ["3e-4", "1e-3"], "CONFIG_WEIGHT_DECAY": ["0", "0.01"]}
    )
    text = report_text(sweep)
    assert "# swept in this sweep:" in text and "CONFIG_LEARNING_RATE=3e-4" in text
    assert "LEARNING_RATE  (spread of means: n/a)" in text
    assert "WEIGHT_DECAY  (spread of means: n/a)" in text  # 0.01 has no ranked run
    assert json.loads((sweep / "sweep_summary.json").read_text())[0]["CONFIG_LEARNING_RATE"] == 3e-4


def test_a_swept_choice_is_one_optimizer_axis_and_unset_rows_do_not_count_in_the_spread(tmp_path):
    sweep = tmp_path / "sweep_x"
    sgd = {"CONFIG_OPTIMIZER_SELECT_SGD": "y", "CONFIG_OPTIMIZER_SELECT_ADAMW": "n"}
    make_run(sweep, 1, {**sgd, "CONFIG_SGD_MOMENTUM": '"0.5"'}, val_acc=80.0)
    make_run(sweep, 2, {**sgd, "CONFIG_SGD_MOMENTUM": '"0.9"'}, val_acc=85.0)
    make_run(
        sweep, 3, {"CONFIG_OPTIMIZER_SELECT_SGD": "n", "CONFIG_OPTIMIZER_SELECT_ADAMW": "y"}, val_acc=99.0
    )
    text = report_text(sweep)
    effects = text[text.index("PARAMETER EFFECTS") :]
    assert "optimizer  (spread of means: 16.50)" in effects
    assert re.search(r"^adamw\s+1\s+1\s+99\.00", effects, re.MULTILINE)
    assert "SGD_MOMENTUM  (spread of means: 5.00)" in effects  # (unset) = the AdamW run, not counted
    assert "OPTIMIZER_SELECT_SGD  (" not in effects
    hyper = text.split("Hyperparameters:")[1].split("Reproduce:")[0]
    assert (
        "CONFIG_OPTIMIZER_SELECT_ADAMW=y  # optimizer: adamw" in hyper
        and hyper.count("OPTIMIZER_SELECT") == 1
    )
    assert re.search(r"^\s*1\s+config_003 .* adamw", text[text.index("TOP 10") :], re.MULTILINE)


def test_config_values_are_shown_as_config_txt_writes_them(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_LEARNING_RATE": '"3e-4"', "CONFIG_WEIGHT_DECAY": '"0"'})
    make_run(sweep, 2, {"CONFIG_LEARNING_RATE": '"1e-3"', "CONFIG_WEIGHT_DECAY": '"0.10"'}, val_acc=50.0)
    text = report_text(sweep)
    assert "0.0003" not in text and "3e-4" in text
    assert re.search(r"^0\.10\s+1\s+1", text, re.MULTILINE) and re.search(r"^0\s+1\s+1", text, re.MULTILINE)


# --- what is left beside the report, and what trainers wrote -----------------------------------


def test_an_analysis_that_ranks_nothing_removes_stale_plots_and_best_model_link(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, test_acc=None)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, test_acc=None)
    (sweep / "config_001_lenet5_adamw" / "best_model.pt").write_bytes(b"w")
    first = write_report(sweep)
    assert first.best_model and len(first.plots) == 2
    again = write_report(sweep, "test_acc")
    assert again.best is None and again.plots == () and again.best_model is None
    assert not (sweep / "learning_curves.png").exists() and not (sweep / "parameter_effects.png").exists()
    assert not (sweep / "best_model.pt").is_symlink()
    assert "no run has test_acc" in again.path.read_text()
    assert list(load_sweep(sweep).nlargest(1, "val_acc")["config_file"]) == ["config_001"]
    assert load_sweep(sweep)["test_acc"].dtype == float


def test_the_report_warns_about_fraction_accuracies_strings_and_nan(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, val_acc=0.97, test_acc=0.95, train_acc=0.99)
    run = make_run(sweep, 2, {"CONFIG_SEED": "2"}, val_acc=0.96, test_acc=0.9, train_acc=0.99)
    metrics = json.loads((run / "training_metrics.json").read_text())
    metrics["final"]["val_loss"] = "0.3"
    metrics["final"]["test_acc"] = float("nan")
    (run / "training_metrics.json").write_text(json.dumps(metrics))
    text = report_text(sweep)
    assert "warning: val_acc is at most 1 in every run (2): looks like a fraction" in text
    assert (
        "warning: config_002: val_loss is a string ('0.3'), not a number; test_acc is nan (not used)" in text
    )
    make_run(sweep, 3, {"CONFIG_SEED": "3"}, val_acc=100.56)
    assert "warning: val_acc lies outside 0-100 in 1 run(s) (config_003 100.56)" in report_text(sweep)


def test_a_pruned_run_counts_as_finished_is_listed_with_its_reason_and_is_never_ranked(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, val_acc=50.0)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, status="pruned", epochs=2, error="below the median at epoch 2")
    text = report_text(sweep)
    assert "Total configurations tested: 2 finished of 2 run folder(s)" in text
    assert "config_002  pruned after 2 epoch(s): below the median at epoch 2" in text
    assert (
        "Config file: config_001" in text
        and "config_002" not in text[text.index("TOP 10") :].split("\n\n")[1]
    )


def test_run_time_gives_the_sum_and_the_sweeps_wall_time(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"}, wall_seconds=30.0)
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, wall_seconds=40.0)
    expected = r"Run time: 0:01:10 summed over 2 run\(s\), 35\.0 s mean per run; sweep wall time 0:00:4\d"
    assert re.search(expected, report_text(sweep))


# --- the summary writer ------------------------------------------------------------------------


def test_summary_writer_gives_the_same_file_as_write_summary_as_runs_finish(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, status="running")
    writer = SummaryWriter(sweep)
    summary = sweep / "sweep_summary.json"

    def same() -> bool:
        text = summary.read_text()
        write_summary(sweep)
        return text == summary.read_text()

    assert same()
    make_run(sweep, 3, {"CONFIG_SEED": "3"})
    writer.run_finished("config_003_lenet5_adamw")
    assert same()
    make_run(sweep, 4, {"CONFIG_SEED": "4", "CONFIG_BATCH_SIZE": "32"})  # a new varied symbol
    writer.run_finished("config_004_lenet5_adamw")
    assert same() and "CONFIG_BATCH_SIZE" in json.loads(summary.read_text())[0]
    pending = sweep / "config_005_lenet5_adamw"
    pending.mkdir()
    (pending / "config.txt").write_text("CONFIG_SEED=5\n")
    writer.run_finished(pending.name)
    assert same() and json.loads(summary.read_text())[-1]["status"] == "interrupted"  # started, no runner
    assert [r["config_file"] for r in writer.write_all()] == [f"config_{n:03d}" for n in range(1, 6)]


def test_hyperparameters_say_why_the_non_default_symbols_are_missing(tmp_path, capsys):
    sweep = tmp_path / "sweep_x"
    best = make_run(sweep, 1, {"CONFIG_SEED": "1"})
    make_run(sweep, 2, {"CONFIG_SEED": "2"}, val_acc=50.0)
    (best / "config.txt").unlink()  # kconfiglib cannot read it: the section says so, loudly
    hyper = report_text(sweep).split("Hyperparameters:")[1].split("Reproduce:")[0]
    assert "# (could not compare" in hyper and "config.txt with the Kconfig defaults" in hyper
    assert "warning: could not compare" in capsys.readouterr().err


def test_the_header_marks_a_dirty_tree_and_names_each_extension(tmp_path):
    sweep = tmp_path / "sweep_x"
    make_run(sweep, 1, {"CONFIG_SEED": "1"})
    write_manifest(sweep, options={})
    manifest = json.loads((sweep / "sweep.json").read_text())
    manifest.update(
        git_commit="abc123", git_dirty=True, git_diff_sha256="feed", extended_from=[{"range_file": "bigger"}]
    )
    (sweep / "sweep.json").write_text(json.dumps(manifest))
    text = report_text(sweep)
    assert "Git commit: abc123 + uncommitted changes (diff sha256 feed)" in text
    assert "Extended from: bigger" in text
