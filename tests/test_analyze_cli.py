"""Across sweeps (leaderboard, compare), promotion, and the analyze scripts as users run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ksweep.analysis.leaderboard import compare, leaderboard
from ksweep.analysis.promote import promote
from ksweep.analysis.ranking import AnalyzeError
from tests.analyze_helpers import make_grid_sweep, make_run

ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """A script run as the user runs it: `python scripts/<name>.py ...` from the repo root."""
    command = [sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def results(tmp_path):
    """Two sweeps: the grid (best val_acc 93) and a newer one on learning rate alone (best 95)."""
    root = tmp_path / "test_matrix_results"
    make_grid_sweep(root, "sweep_20250101_120000")
    newer = root / "sweep_20250102_120000"
    for number, lr, acc in ((1, "0.001", 95.0), (2, "0.01", 94.0), (3, "0.0001", 80.0)):
        make_run(newer, number, {"CONFIG_LEARNING_RATE": f'"{lr}"'}, val_acc=acc)
    return root


# --- leaderboard and compare --------------------------------------------------------


def test_leaderboard_ranks_the_runs_of_all_sweeps(results):
    text = leaderboard(results, "val_acc", "max", top=4)
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("sweep_20250102_120000", "config_001", "95.00"),
        ("sweep_20250102_120000", "config_002", "94.00"),
        ("sweep_20250101_120000", "config_004", "93.00"),  # tied with config_002: lower val_loss
        ("sweep_20250101_120000", "config_002", "93.00"),
    ]
    assert [r[0] for r in rows] == ["1", "2", "3=", "3="]  # a tie reads as in the report
    assert "LEARNING_RATE=0.001" in text and "in 2 sweep(s)" in text
    header = next(line.split() for line in text.splitlines() if line.strip().startswith("#"))
    assert header[:7] == ["#", "sweep", "config", "val_acc", "test_acc", "epochs", "total_time"]


def test_compare_shows_best_of_each_and_the_metric_per_shared_value(results):
    text = compare(results / "sweep_20250101_120000", results / "sweep_20250102_120000")
    assert "best val_acc       93.00%" in text and "95.00%" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("0.")}
    assert rows["0.001"] == ["2", "92.00", "93.00", "1", "95.00", "95.00", "+3.00"]
    assert rows["0.1"] == ["2", "72.50", "75.00", "0", "n/a", "n/a", "n/a"]
    assert "Swept in one sweep only: CONFIG_BATCH_SIZE" in text


# --- promotion ----------------------------------------------------------------------


def test_promote_writes_the_top_k_configs_with_epochs_overridden(results, tmp_path):
    out = tmp_path / "sweep_configs"
    promotion = promote(results / "sweep_20250101_120000", top=3, epochs=25, out_dir=out)
    assert sorted(p.name for p in out.iterdir()) == [
        "combinations_summary.txt",
        "config_001",
        "config_002",
        "config_003",
        "generate.json",
    ]
    assert [r["config_file"] for r in promotion.sources.values()] == [
        "config_004",
        "config_002",
        "config_001",
    ]
    first = (out / "config_001").read_text()
    assert "CONFIG_NUM_EPOCHS=25" in first and "CONFIG_NUM_EPOCHS=3" not in first
    assert 'CONFIG_LEARNING_RATE="0.01"' in first and "CONFIG_BATCH_SIZE=64" in first
    summary = (out / "combinations_summary.txt").read_text()
    assert "config_001  <- config_004_lenet5_adamw" in summary
    assert "config_003  <- config_001_lenet5_adamw" in summary


def test_promote_without_epochs_keeps_the_config_as_it_ran(results, tmp_path):
    out = tmp_path / "sweep_configs"
    promote(results / "sweep_20250102_120000", top=1, out_dir=out)
    assert "CONFIG_NUM_EPOCHS=3" in (out / "config_001").read_text()


def test_failed_promotion_leaves_an_existing_sweep_configs_intact(tmp_path):
    out = tmp_path / "sweep_configs"
    out.mkdir()
    (out / "config_001").write_text("CONFIG_SEED=7\n")
    failed_only = tmp_path / "sweep_x"
    make_run(failed_only, 1, status="failed", error="boom")
    with pytest.raises(AnalyzeError, match="no completed run"):
        promote(failed_only, top=3, epochs=25, out_dir=out)
    assert [p.name for p in out.iterdir()] == ["config_001"]
    assert (out / "config_001").read_text() == "CONFIG_SEED=7\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep_configs", "sweep_x"]  # no temp left


def test_promote_replaces_an_existing_sweep_configs_on_success(results, tmp_path):
    out = tmp_path / "sweep_configs"
    out.mkdir()
    (out / "config_009").write_text("old\n")
    promote(results / "sweep_20250102_120000", top=2, epochs=10, out_dir=out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["combinations_summary.txt", "config_001", "config_002", "generate.json"]


# --- the scripts --------------------------------------------------------------------


def test_analyze_script_takes_the_newest_sweep_by_default(results):
    done = run_script("analyze_sweep", "--results-dir", str(results), "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "sweep_20250102_120000: 3 runs (completed 3)" in done.stdout
    assert "best: config_001 val_acc 95.00%" in done.stdout
    assert (results / "sweep_20250102_120000" / "sweep_analysis.txt").is_file()
    assert not (results / "sweep_20250101_120000" / "sweep_analysis.txt").exists()


def test_empty_make_variables_mean_the_defaults(results):
    # `make sweep-analyze` passes --metric=$(METRIC) --mode=$(MODE) even when they are unset.
    done = run_script(
        "analyze_sweep", "--sweep=", "--metric=", "--mode=", f"--results-dir={results}", "--no-plots"
    )
    assert done.returncode == 0, done.stderr
    assert "best: config_001 val_acc 95.00%" in done.stdout


def test_the_summary_path_imports_neither_pandas_nor_matplotlib_and_nothing_imports_torch(results):
    code = (
        "import sys; from ksweep.run.summary import write_summary; "
        f"write_summary({str(results / 'sweep_20250101_120000')!r}); "
        "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules, 'heavy import'; "
        "import ksweep.analysis.analyze, ksweep.analysis.report, ksweep.analysis.plots; "
        "import ksweep.analysis.promote, ksweep.analysis.leaderboard; "
        "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules, 'eager import'; "
        "assert 'torch' not in sys.modules, 'torch'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--results-dir", "{tmp}/nowhere"], "error: no sweep found under"),
        (
            ["--sweep", "{results}/sweep_20250101_120000", "--metric", "acc"],
            "unknown metric 'acc'; available: ",
        ),
        (["--sweep", "{tmp}/empty"], "empty sweep"),
    ],
)
def test_analyze_script_errors_are_one_line_and_exit_non_zero(results, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(tmp=tmp_path, results=results) for a in args]
    done = run_script("analyze_sweep", *args)
    assert done.returncode == 1
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_bad_mode_flag_is_one_line_naming_the_flag(results):
    done = run_script("analyze_sweep", "--sweep", str(results / "sweep_20250101_120000"), "--mode", "best")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: argument --mode: expected max or min"


def test_promote_leaderboard_and_compare_scripts_run_from_the_repo_root(results, tmp_path):
    out = tmp_path / "promoted"
    done = run_script(
        "sweep_promote", "--results-dir", str(results), "--top", "2", "--epochs", "9", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "CONFIG_NUM_EPOCHS=9" in (out / "config_002").read_text()
    done = run_script(
        "sweep_leaderboard", "--results-dir", str(results), "--metric", "val_loss", "--mode", "min"
    )
    assert done.returncode == 0 and "by val_loss (min)" in done.stdout
    done = run_script("sweep_compare", str(results / "sweep_20250101_120000"), str(tmp_path / "missing"))
    assert done.returncode == 1 and "error: " in done.stderr and "no such sweep" in done.stderr
