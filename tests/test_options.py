"""The options registry (ksweep.options): every setting declared once, and what comes from it."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess

import pytest

from ksweep.cli.catalog import CATALOG
from ksweep.options import Catalog, Option, OptionError, add_flags, resolve
from tests.conftest import ROOT, run_make, run_script

make = run_make


@pytest.mark.parametrize(
    "typed, message",
    [
        ("REPEAT=3", "REPEAT=3: unknown variable (did you mean REPEATS?)"),
        ("TRACKERS=mlflow", "TRACKERS=mlflow: unknown variable (did you mean TRACKER?)"),
        ("SAMPLE=5", "SAMPLE=5: unknown variable (did you mean SAMPLES?)"),
        ("XYZZY=1", "XYZZY=1: unknown variable"),
    ],
)
def test_a_mistyped_make_variable_is_refused_with_a_did_you_mean_and_nothing_starts(tmp_path, typed, message):
    configs, out = tmp_path / "sc", tmp_path / "out"
    result = make("sweep", f"CONFIG_DIR={configs}", f"OUTPUT={out}", typed)
    assert result.returncode != 0
    assert message in result.stderr and "(nothing was started)" in result.stderr
    assert not configs.exists() and not out.exists()


def test_variables_from_the_environment_and_makes_own_are_never_refused_as_unknown(tmp_path):
    env = {**os.environ, "REPEAT": "3"}
    env_result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, timeout=60, env=env
    )
    assert env_result.returncode == 0, env_result.stderr
    assert make("help", "V=1", "MAKEFLAGS=").returncode == 0


def test_make_help_lists_every_declared_variable():
    result = make("help")
    assert result.returncode == 0, result.stderr
    for option in CATALOG.options.values():
        assert re.search(rf"^  {re.escape(option.usage())}\s", result.stdout, re.M), option.var


def test_the_readme_variables_table_is_the_registrys():
    table = subprocess.run(
        ["python3", str(ROOT / "scripts/make_vars.py"), "table"], capture_output=True, text=True, check=True
    ).stdout.strip()
    readme = (ROOT / "README.md").read_text()
    assert table in readme, "README's variables table differs: paste `python3 scripts/make_vars.py table`"


def test_every_runner_option_is_a_flag_of_the_runner():
    result = run_script("run_test_matrix.py", "--help")
    for option in CATALOG.for_command("run"):
        if not option.make_only:
            assert option.flag in result.stdout, option.flag


def test_a_flag_is_checked_by_its_declaration_with_the_make_variables_words():
    result = run_script("run_test_matrix.py", "--jobs", "0")
    assert result.returncode == 2 and result.stderr == "error: argument --jobs: must be at least 1\n"


def test_a_sweep_keeps_exactly_the_options_declared_kept(sweep):
    sweep.generate("1")
    result = sweep.run("--jobs", "1", "--retries", "2")
    assert result.returncode == 0, result.stderr
    saved = json.loads((sweep.dirs()[0] / "sweep.json").read_text())["options"]
    assert set(saved) == {o.name for o in CATALOG.kept()}
    assert saved["jobs"] == 1 and saved["retries"] == 2 and saved["pruner_reduction"] is None


def test_a_resume_takes_the_kept_options_the_command_line_does_not_give(sweep):
    sweep.generate("1|2")
    assert sweep.run("--retries", "2", "--stop-on-failure").returncode == 0
    result = sweep.run("--resume", "--dry-run")
    assert result.returncode == 0, result.stderr
    saved = json.loads((sweep.dirs()[0] / "sweep.json").read_text())["options"]
    assert saved["retries"] == 2  # not reset to the declared default 0 by the resume


def test_parse_says_what_is_wrong_in_the_variables_words():
    jobs = Option("jobs", int, at_least=1)
    assert jobs.parse("3") == 3
    with pytest.raises(OptionError, match=r"^JOBS=0: must be at least 1$"):
        jobs.parse("0")
    with pytest.raises(OptionError, match=r"^JOBS=two: not a whole number$"):
        jobs.parse("two")
    timeout = Option("run_timeout", float, above=0)
    with pytest.raises(OptionError, match=r"must be above 0"):
        timeout.parse("0")
    with pytest.raises(OptionError, match=r"not a number"):
        timeout.parse("inf")
    flag = Option("dry_run", bool)
    assert flag.parse("Yes") is True and flag.parse("0") is False
    with pytest.raises(OptionError, match="expected 1/y/yes/true"):
        flag.parse("maybe")
    with pytest.raises(OptionError, match="expected max or min"):
        Option("mode", choices=("max", "min")).parse("best")


def test_an_option_declared_twice_is_refused():
    with pytest.raises(ValueError, match="JOBS is declared twice"):
        Catalog.of([Option("jobs", int)], [Option("jobs", int)])


def test_resolve_takes_the_first_source_with_a_value_then_the_default():
    options = [
        Option("retries", int, default=0),
        Option("jobs", int),
        Option("parallel", int, same_as="jobs"),
    ]
    values = resolve(options, {"retries": None, "jobs": 2}, {"retries": 5, "jobs": 4})
    assert values.retries == 5 and values.jobs == 2 and values.get("parallel") is None
    assert resolve(options).retries == 0


def test_another_spelling_sets_the_same_option():
    parser = argparse.ArgumentParser()
    add_flags(parser, CATALOG.for_command("run"))
    assert parser.parse_args(["--parallel", "3"]).jobs == 3
    assert parser.parse_args(["--override-epochs", "2"]).epochs == 2
    assert parser.parse_args(["--dry-run"]).dry_run is True
    assert parser.parse_args(["--dry-run=no"]).dry_run is False
    assert parser.parse_args(["--mode="]).mode is None  # Make passes --mode= when MODE is unset


def test_a_variable_the_target_does_not_take_is_refused_naming_the_targets_that_do(tmp_path):
    result = make("sweep", f"CONFIG_DIR={tmp_path / 'sc'}", f"OUTPUT={tmp_path / 'out'}", f"SWEEP={tmp_path}")
    assert result.returncode != 0 and not (tmp_path / "sc").exists() and not (tmp_path / "out").exists()
    assert (
        f"SWEEP={tmp_path}: make sweep does not take it (it is for make sweep-run, sweep-resume"
        in result.stderr
    )
    assert make("help", "SWEEP=x").returncode == 0  # help, test, bench: no command of ksweep's to check
