"""The Python API (ksweep.sweep, ksweep.load, ksweep.resume) as a notebook uses it, with the tiny
trainer: the sweep it returns, its runs and best, refusals as ValueError, Ctrl-C as in a terminal."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, TINY, wait_for

RANGE = "CONFIG_SEED=1|2|3\nCONFIG_WEIGHT_DECAY=0.01|0.02\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n"


def python(tmp_path, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter in `tmp_path`, as a notebook in that folder would run it."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport ksweep\nTINY = {TINY!r}\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_an_unknown_option_is_a_value_error_naming_the_closest_and_nothing_starts(tmp_path):
    import ksweep

    with pytest.raises(ValueError, match=r"jobz=2: unknown option for ksweep.sweep \(did you mean jobs\?\)"):
        ksweep.sweep("lenet5-digits-quick-range", jobz=2)
    with pytest.raises(ValueError, match="not a sweep folder made by ksweep"):
        ksweep.load(tmp_path)


@pytest.mark.slow
def test_sweep_returns_its_folder_runs_and_best_config_and_writes_no_shared_configs(tmp_path):
    (tmp_path / "range").write_text(RANGE)
    result = python(
        tmp_path,
        """
        s = ksweep.sweep("range", train_command=TINY, jobs=2, output="results", progress=False)
        print("PATH", s.path)
        print("RUNS", len(s.runs), sorted(s.runs.columns)[:3])
        best = s.best
        print("BEST", best["CONFIG_WEIGHT_DECAY"], round(best["mean"], 2), best["n"], len(best["runs"]))
        print("INTERVAL", all(isinstance(x, float) for x in best["interval"]))
        print("LOADED", ksweep.load(s.path).best == best)
        """,
    )
    assert result.returncode == 0, result.stderr
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.split(" ")[0].isupper())
    assert out["PATH"].startswith("results/sweep_")
    assert out["RUNS"].startswith("6 ")
    assert out["BEST"] == "0.01 90.2 3 3"  # val_acc 90 + seed/10: a tie, broken by the lower config number
    assert out["INTERVAL"] == "True" and out["LOADED"] == "True"
    assert not (tmp_path / "sweep_configs").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sweep_configs")]


@pytest.mark.slow
def test_a_refused_option_value_raises_the_commands_line_before_any_sweep_folder(tmp_path):
    (tmp_path / "range").write_text(RANGE)
    result = python(
        tmp_path,
        """
        for options in ({"tracker": "mlfow"}, {"search": "tpe"}, {"jobs": 0}):
            try:
                ksweep.sweep("range", train_command=TINY, output="results", **options)
            except ValueError as err:
                print("REFUSED", err)
        """,
    )
    assert result.returncode == 0, result.stderr
    refused = [line for line in result.stdout.splitlines() if line.startswith("REFUSED")]
    assert refused[0] == (
        "REFUSED TRACKER=mlfow: unknown mlfow (one or more of mlflow, tensorboard, wandb, trackio); "
        "did you mean mlflow?"
    )
    assert refused[1] == "REFUSED SEARCH=tpe needs SAMPLES=N (the number of configs to propose)"
    assert refused[2] == "REFUSED JOBS=0: must be at least 1"
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_as_in_a_terminal_and_resume_finishes_it(tmp_path):
    (tmp_path / "range").write_text(RANGE)
    code = """
        try:
            ksweep.sweep("range", train_command=TINY, output="results", progress=False)
        except KeyboardInterrupt as err:
            print("STOPPED", err, flush=True)
        s = ksweep.resume(sorted(__import__("pathlib").Path("results").glob("sweep_*"))[0],
                          train_command=TINY, progress=False)
        print("DONE", sorted(s.runs["status"].unique()))
    """
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport ksweep\nTINY = {TINY!r}\n"
    process = subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TINY_SLEEP": "1"},
    )  # fmt: skip
    wait_for(lambda: list(tmp_path.glob("results/sweep_*/config_001*/training_metrics.json")), 60)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "STOPPED the sweep was stopped; resume with ksweep.resume('results/sweep_" in out
    assert "DONE ['completed']" in out
