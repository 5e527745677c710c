"""make sweep-reproduce: a finished built-in-trainer run trained again from its folder alone."""

import pytest

from tests.conftest import run_script

# End to end through the commands, or real training: make test-all (not make test).
pytestmark = pytest.mark.slow

RANGE = "CONFIG_MODEL_SELECT_MLP=y\nCONFIG_DATASET_SELECT_DIGITS=y\nCONFIG_NUM_EPOCHS=2\nCONFIG_SEED=1|2\n"


@pytest.fixture
def finished_run(tmp_path, range_file):
    configs, results = tmp_path / "sweep_configs", tmp_path / "results"
    assert run_script("generate_config_combinations.py", range_file(RANGE), configs).returncode == 0
    ran = run_script(
        "run_test_matrix.py", "--config-dir", configs, "--output-dir", results, "--no-progress", timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = results.glob("sweep_*/config_001_*")
    return run_dir


def test_a_finished_cpu_run_reproduces_bit_for_bit(finished_run):
    result = run_script("reproduce_run.py", finished_run, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "as the run trained it" in result.stdout
    assert "identical: every epoch and the final metrics match bit for bit" in result.stdout


def test_a_run_whose_config_was_edited_afterwards_reports_the_difference(finished_run):
    config = finished_run / "config.txt"
    config.write_text(
        config.read_text().replace('CONFIG_LEARNING_RATE="0.001"', 'CONFIG_LEARNING_RATE="0.003"')
    )
    result = run_script("reproduce_run.py", finished_run, timeout=300)
    assert result.returncode == 1
    assert "config.txt was edited after the run trained: CONFIG_LEARNING_RATE=0.001 → 0.003" in result.stdout
    assert "DIFFERS" in result.stdout and "epoch 1 lr: 0.001 recorded, 0.003 now" in result.stdout


def test_a_run_that_did_not_complete_is_one_clear_line(tmp_path, sweep):
    sweep.generate("15")  # the tiny trainer exits 3: a failed run
    sweep.run("--no-progress")
    (run_dir,) = sweep.dirs()[0].glob("config_001_*")
    result = run_script("reproduce_run.py", run_dir)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("no completed run to reproduce (status failed)")
