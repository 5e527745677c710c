"""Choosing an optional part whose extra is not installed: one line naming the extra, before
anything is made (the package is made missing by blocking its import in the command's process)."""

from __future__ import annotations

import pytest

from ksweep.contract import extras
from tests.conftest import run_ksweep

TINY = "tests/data/tiny_trainer.py"


def blocked(*modules: str) -> str:
    """Code that makes `modules` impossible to import, as if they were not installed."""
    return "; ".join(f"sys.modules[{m!r}] = None" for m in modules)


PIP = "pip install -r requirements-"  # a checkout's pinned file for each extra


@pytest.mark.parametrize(
    "flags, missing, line",
    [
        (["--backend", "ray"], "ray", f"BACKEND=ray needs Ray: {PIP}ray.txt"),
        (["--backend", "slurm"], "submitit", f"BACKEND=slurm needs submitit: {PIP}slurm.txt"),
        (["--search", "tpe", "--samples", "3"], "optuna", f"SEARCH=tpe needs Optuna: {PIP}search.txt"),
        (["--pruner", "asha"], "optuna", f"PRUNER=asha needs Optuna: {PIP}search.txt"),
        (["--tracker", "mlflow"], "mlflow", f"TRACKER=mlflow needs MLflow: {PIP}tracking.txt"),
        (["--tracker", "tensorboard,wandb"], "wandb", f"TRACKER=wandb needs W&B (wandb): {PIP}tracking.txt"),
    ],
)
def test_a_part_whose_extra_is_missing_is_one_line_before_anything_is_made(tmp_path, flags, missing, line):
    result = run_ksweep("sweep", "--epochs", "1", *flags, cwd=tmp_path, code=blocked(missing))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"error: {line}\n"
    assert list(tmp_path.iterdir()) == []  # no sweep_configs/, no test_matrix_results/


def test_export_to_a_tracker_that_is_not_installed_says_which_extra(tmp_path):
    result = run_ksweep("export", "--tracker", "trackio", cwd=tmp_path, code=blocked("trackio"))
    assert result.returncode == 1
    assert result.stderr == "error: TRACKER=trackio needs trackio: pip install -r requirements-tracking.txt\n"


def test_a_run_refuses_the_same_way_before_its_sweep_folder(tmp_path, sweep):
    sweep.generate("1|2")
    result = run_ksweep("run", *sweep.args("--backend", "ray"), cwd=tmp_path, code=blocked("ray"))
    assert result.returncode == 2 and "BACKEND=ray needs Ray" in result.stderr
    assert not sweep.results.exists()


def test_installed_the_message_names_the_extra_of_the_package(monkeypatch):
    monkeypatch.setattr(extras, "CHECKOUT", False)
    assert extras.missing("BACKEND=ray", "no_such_module_here", "Ray", "ray") == (
        "BACKEND=ray needs Ray: pip install 'ksweep[ray]'"
    )
    assert extras.missing("BACKEND=ray", "json", "Ray", "ray") is None
