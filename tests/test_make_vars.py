"""Make variables as a user types them: booleans, numbers, spaces and quotes."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_make

TINY = ROOT / "tests/data/tiny_trainer.py"


make = run_make


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("DRY_RUN=maybe", "DRY_RUN=maybe: expected 1/y/yes/true or 0/n/no/false"),
        ("RETRY_FAILED=sure", "RETRY_FAILED=sure: expected"),
        ("STOP_ON_FAILURE=2", "STOP_ON_FAILURE=2: expected"),
        ("JOBS=0", "JOBS=0: must be at least 1"),
        ("EPOCHS=ten", "EPOCHS=ten: not a whole number"),
        ("RUN_TIMEOUT=-1", "RUN_TIMEOUT=-1: must be above 0"),
        ("RUN_TIMEOUT=0", "RUN_TIMEOUT=0: must be above 0"),
        ("RUN_TIMEOUT=nan", "RUN_TIMEOUT=nan: not a number"),
        ("RETRIES=-1", "RETRIES=-1: must be at least 0"),
        ("MAX_CONFIGS=0", "MAX_CONFIGS=0: must be at least 1"),
        ("MODE=highest", "MODE=highest: expected max or min"),
    ],
)
def test_nonsense_make_variable_is_refused_before_anything_starts(tmp_path, assignment, message):
    configs = tmp_path / "sc"
    result = make("sweep", f"CONFIG_DIR={configs}", f"OUTPUT={tmp_path / 'out'}", assignment)
    assert result.returncode != 0 and message in result.stderr
    assert "nothing was started" in result.stderr
    assert not configs.exists() and not (tmp_path / "out").exists()


def test_conflicting_jobs_and_parallel_are_refused(tmp_path):
    result = make("sweep", f"CONFIG_DIR={tmp_path / 'sc'}", "JOBS=2", "PARALLEL=3")
    assert result.returncode != 0 and "JOBS=2 and PARALLEL=3 disagree" in result.stderr


@pytest.mark.parametrize("spelling", ["yes", "true", "Y", "1"])
def test_dry_run_spellings_all_mean_dry_run_and_write_nothing(tmp_path, spelling):
    configs = tmp_path / "sc"
    configs.mkdir()
    (configs / "config_001").write_text("CONFIG_SEED=7\n")  # a promoted sweep a dry run must not replace
    result = make(
        "sweep",
        f"CONFIG_DIR={configs}",
        f"OUTPUT={tmp_path / 'out'}",
        f"DRY_RUN={spelling}",
        f"TRAIN_COMMAND={sys.executable} {TINY}",
    )
    assert result.returncode == 0, result.stderr
    assert "36 of 36 runs to do" in result.stdout and "RUN     " not in result.stdout
    assert [p.name for p in configs.iterdir()] == ["config_001"]
    assert (configs / "config_001").read_text() == "CONFIG_SEED=7\n"
    assert not (tmp_path / "out").exists()


def test_paths_and_train_command_with_spaces_and_quotes_work(tmp_path):
    folder = tmp_path / "my sp ace"
    folder.mkdir()
    (folder / "my range").write_text("CONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_SEED=1|2\n")
    (folder / "t.py").write_text(TINY.read_text())
    command = f"{sys.executable} '{folder / 't.py'}'"
    result = make(
        "sweep",
        f"RANGE_CONFIG={folder / 'my range'}",
        f"CONFIG_DIR={folder / 'sc'}",
        f"OUTPUT={folder / 'results'}",
        f"TRAIN_COMMAND={command}",
    )
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (folder / "results").glob("sweep_*")
    logs = sorted(sweep_dir.glob("config_*/output.log"))
    assert len(logs) == 2 and all("tiny trainer: seed" in log.read_text() for log in logs)
    lines = (sweep_dir / "sweep_analysis.txt").read_text().splitlines()
    reproduce = lines[lines.index(next(x for x in lines if x.startswith("Reproduce:"))) + 1].strip()
    rerun = subprocess.run(reproduce, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr  # what ksweep prints back is pasteable, spaces and all


def test_sweep_parallel_runs_the_sweep_with_parallel_jobs(tmp_path):
    (tmp_path / "range").write_text("CONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_SEED=1|2\n")
    result = make(
        "sweep-parallel",
        "PARALLEL=2",
        f"RANGE_CONFIG={tmp_path / 'range'}",
        f"CONFIG_DIR={tmp_path / 'sc'}",
        f"OUTPUT={tmp_path / 'out'}",
        f"TRAIN_COMMAND={sys.executable} {TINY}",
    )
    assert result.returncode == 0, result.stderr
    (sweep_dir,) = (tmp_path / "out").glob("sweep_*")
    assert json.loads((sweep_dir / "sweep.json").read_text())["options"]["jobs"] == 2


def test_two_make_sweeps_started_together_each_train_their_own_range_file(tmp_path):
    ranges = {
        "lr": "CONFIG_SEED=1\nCONFIG_LEARNING_RATE=1e-3|2e-3|3e-3|4e-3\n",
        "wd": "CONFIG_SEED=2\nCONFIG_WEIGHT_DECAY=0|0.01\n",
    }
    for name, text in ranges.items():
        (tmp_path / f"{name}-range").write_text(text)
    started = {
        name: subprocess.Popen(
            [
                "make",
                "-s",
                "-C",
                str(ROOT),
                "sweep",
                f"RANGE_CONFIG={tmp_path / f'{name}-range'}",
                f"CONFIG_DIR={tmp_path / 'sweep_configs'}",
                f"OUTPUT={tmp_path / name}",
                f"TRAIN_COMMAND={sys.executable} {TINY}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name in ranges
    }
    for name, process in started.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        (sweep_dir,) = (tmp_path / name).glob("sweep_*")
        manifest = json.loads((sweep_dir / "sweep.json").read_text())
        assert manifest["range_file"].endswith(f"{name}-range")
        assert manifest["config_dir"] == str(tmp_path / "sweep_configs")
        configs = sorted((sweep_dir / "plan").glob("config_*"))
        assert len(configs) == {"lr": 4, "wd": 2}[name]
        swept = "CONFIG_LEARNING_RATE" if name == "lr" else "CONFIG_WEIGHT_DECAY"
        assert all(f"{swept}=" in (run / "config.txt").read_text() for run in sweep_dir.glob("config_*"))
    assert (
        sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    )  # no private folder left
    published = json.loads((tmp_path / "sweep_configs/generate.json").read_text())
    assert published["range_file"].endswith(("lr-range", "wd-range"))  # whichever published last


def test_a_grid_too_large_is_timed_by_the_newest_sweep_of_its_range_file(tmp_path):
    from tests.conftest import run_script

    (tmp_path / "r").write_text("CONFIG_SEED=1|2\nCONFIG_NUM_EPOCHS=2\n")
    common = [
        "--config-dir",
        tmp_path / "sc",
        "--output",
        tmp_path / "out",
        "--train-command",
        f"{sys.executable} {TINY}",
    ]
    first = run_script("sweep.py", tmp_path / "r", *common, "--no-progress")
    assert first.returncode == 0, first.stderr
    refused = run_script("sweep.py", tmp_path / "r", *common, "--max-configs", "1")
    assert refused.returncode == 1
    assert "2 configs exceed MAX_CONFIGS=1: at " in refused.stderr
    assert "s per epoch x 2 epochs, as the newest sweep of it ran)" in refused.stderr
    assert "32 min" not in refused.stderr


@pytest.mark.parametrize(
    "assignment, says",
    [
        ("TRACKER=mlfow", "TRACKER=mlfow: unknown mlfow (one or more of mlflow, "),
        ("TRACKER=mlfow", "trackio); did you mean mlflow?"),
        ("METRIC=val_accc", "val_accc"),
        ("TRAIN_COMMAND=pythonn_x train.py", "pythonn_x"),
    ],
)
def test_make_sweep_refuses_a_bad_setting_before_it_touches_sweep_configs(tmp_path, assignment, says):
    configs = tmp_path / "sc"
    configs.mkdir()
    (configs / "config_001").write_text("CONFIG_SEED=7\n")  # what an earlier sweep-generate left
    result = make("sweep", f"CONFIG_DIR={configs}", f"OUTPUT={tmp_path / 'out'}", assignment)
    assert result.returncode != 0 and says in result.stderr and "GEN" not in result.stdout
    assert sorted(p.name for p in configs.iterdir()) == ["config_001"]
