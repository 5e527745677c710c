"""A project's own Kconfig: ksweep run in its folder (or given --kconfig / KCONFIG=) validates,
generates, trains and analyses against its symbols; examples/digits-numpy is such a project."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.conftest import ROOT, run_ksweep, run_make

EXAMPLE = ROOT / "examples" / "digits-numpy"
TRAIN = f"{sys.executable} train.py"


@pytest.fixture
def project(tmp_path):
    """A copy of the example project (its Kconfig, defconfigs/, train.py) to work in."""
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder)
    return folder


def test_generate_in_a_project_folder_checks_and_folds_against_its_own_kconfig(project):
    result = run_ksweep("generate", "lr-momentum-range", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "6 configs from 8 combinations, 2 folded" in result.stdout
    assert "CONFIG_MOMENTUM has no effect: depends on USE_MOMENTUM" in result.stdout
    config = (project / "sweep_configs" / "config_001").read_text()
    assert "CONFIG_LEARNING_RATE=" in config and "CONFIG_MODEL_SELECT" not in config


@pytest.mark.parametrize(
    "line, message",
    [
        ("CONFIG_LEARNING_RATE=fast", "CONFIG_LEARNING_RATE: fast is not a number"),
        ("CONFIG_L2=1", "CONFIG_L2: 1 is outside [0, 1)"),
        ("CONFIG_BATCH_SIZE=4", "CONFIG_BATCH_SIZE: 4 is outside the symbol's range 8..512"),
        ("CONFIG_INIT=ones", "CONFIG_INIT: ones is not one of zeros, normal"),
        (
            "CONFIG_LEARNING_RAT=0.1",
            "unknown symbol: no Kconfig defines it (did you mean CONFIG_LEARNING_RATE?)",
        ),
        ("CONFIG_MODEL_SELECT_MLP=y", "CONFIG_MODEL_SELECT_MLP: unknown symbol"),
    ],
)
def test_a_range_file_is_checked_against_the_projects_symbols_ranges_and_help_types(project, line, message):
    (project / "mine").write_text(line + "\n")
    result = run_ksweep("generate", "mine", cwd=project)
    assert result.returncode == 1 and message in result.stderr
    assert not (project / "sweep_configs").exists()


def test_kconfig_names_a_project_elsewhere_and_outputs_stay_here(project, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    result = run_ksweep("generate", project / "defconfigs/lr-momentum-range", "--kconfig", project, cwd=here)
    assert result.returncode == 0, result.stderr
    assert len(list((here / "sweep_configs").glob("config_*"))) == 6
    assert not (project / "sweep_configs").exists()


def test_without_a_kconfig_here_the_built_in_one_is_used(tmp_path):
    result = run_ksweep("generate", "lenet5-digits-quick-range", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CONFIG_MODEL_SELECT_LENET5=y" in (tmp_path / "sweep_configs/config_001").read_text()


def test_kconfig_naming_no_file_is_one_line_and_nothing_starts(tmp_path):
    for command in (["sweep"], ["generate"], ["run"], ["list-defconfigs"]):
        result = run_ksweep(*command, "--kconfig", "nope/Kconfig", cwd=tmp_path)
        assert result.returncode == 2, command
        assert result.stderr == "error: argument --kconfig: no such file or folder\n", command
    assert list(tmp_path.iterdir()) == []


def test_make_refuses_a_kconfig_that_is_not_there_before_anything_starts(tmp_path):
    result = run_make("sweep-generate", f"KCONFIG={tmp_path / 'nope'}", f"CONFIG_DIR={tmp_path / 'sc'}")
    assert result.returncode != 0
    assert f"KCONFIG={tmp_path / 'nope'}: no such file or folder (nothing was started)" in result.stderr
    assert not (tmp_path / "sc").exists()


def test_a_kconfig_kconfiglib_cannot_parse_is_its_file_and_line(project):
    kconfig = project / "Kconfig"
    kconfig.write_text(kconfig.read_text() + '\nconfig BROKEN\n\tint "broken"\n\tdefault\n')
    lines = len(kconfig.read_text().splitlines())
    for command in (
        ["generate", "lr-momentum-range"],
        ["sweep", "lr-momentum-range", "--train-command", TRAIN],
    ):
        result = run_ksweep(*command, cwd=project)
        assert result.returncode in (1, 2), command
        assert result.stderr.splitlines() == [
            f"error: Kconfig:{lines}: couldn't parse 'default': malformed expression"
        ]
    assert not (project / "sweep_configs").exists() and not (project / "test_matrix_results").exists()


def test_the_built_in_trainer_on_a_project_kconfig_is_refused_naming_train_command(project):
    result = run_ksweep("sweep", "lr-momentum-range", cwd=project)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "the built-in trainer reads symbols that Kconfig does not define (MODEL_SELECT_*" in line
    assert "give your own trainer with TRAIN_COMMAND" in line
    assert not (project / "sweep_configs").exists()


def test_train_command_placeholders_name_the_projects_own_symbols(project):
    result = run_ksweep(
        "sweep", "lr-momentum-range", "--train-command", f"{TRAIN} --lr {{LEARNIG_RATE}}", cwd=project
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: TRAIN_COMMAND: {LEARNIG_RATE} names no Kconfig symbol (did you mean {LEARNING_RATE}?)\n"
    )
    assert not (project / "sweep_configs").exists()


def test_repeats_need_a_seed_symbol_in_the_projects_kconfig(project):
    kconfig = project / "Kconfig"
    kconfig.write_text(kconfig.read_text().split("config SEED")[0])
    result = run_ksweep("generate", "lr-momentum-range", "--repeats", "3", cwd=project)
    assert result.returncode == 1
    assert "REPEATS=3 sweeps the seed, and Kconfig defines no SEED symbol" in result.stderr


def test_a_project_without_the_quick_sweep_must_name_its_range_file(project):
    result = run_ksweep("sweep", "--train-command", TRAIN, cwd=project)
    assert result.returncode == 1
    assert "no range file given" in result.stderr and "name one" in result.stderr


def test_defconfig_and_list_defconfigs_use_the_projects_defconfigs(project):
    listed = run_ksweep("list-defconfigs", cwd=project)
    assert listed.returncode == 0 and "lr-momentum-range" in listed.stdout and "lenet5" not in listed.stdout
    written = run_ksweep("defconfig", "digits-numpy", cwd=project)
    assert written.returncode == 0, written.stderr
    assert "CONFIG_NUM_EPOCHS=5" in (project / ".config").read_text()


@pytest.mark.slow
def test_the_example_project_sweeps_end_to_end_with_its_own_trainer(project):
    result = run_ksweep(
        "sweep", "lr-momentum-range", "--train-command", TRAIN, "--jobs", "2", "--no-progress",
        cwd=project, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "BEST    config_" in result.stdout
    (sweep_dir,) = (project / "test_matrix_results").glob("sweep_*")
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert len(summary) == 6 and all(r["status"] == "completed" for r in summary)
    assert {r["CONFIG_LEARNING_RATE"] for r in summary} == {0.1, 0.5}
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    assert "BEST CONFIGURATION:" in analysis and "TOP 10 CONFIGURATIONS:" in analysis
    assert f"  cd {project} && " in analysis  # Reproduce: where the runs ran, train.py's folder
    assert (project / "sweep_configs" / "config_006").is_file()
