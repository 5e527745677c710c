"""The `ksweep` command: the Make targets as subcommands, the Make variables as flags, one
implementation behind the command, the Makefile and scripts/*.py."""

from __future__ import annotations

import re
import sys

import pytest

from ksweep.cli.catalog import CATALOG
from ksweep.cli.main import COMMANDS
from ksweep.contract import project
from ksweep.contract.project import command_line
from tests.conftest import ROOT, run_ksweep, run_make, run_script

sys.path.insert(0, str(ROOT / "scripts"))
from make_vars import TARGETS  # noqa: E402  - the Makefile's targets and the commands they run

# The targets whose command is another's with a flag: sweep-parallel is `ksweep sweep --parallel N`.
NOT_SUBCOMMANDS = {"sweep-parallel"}


def test_every_make_target_of_a_command_is_a_subcommand_named_without_sweep():
    for target in set(TARGETS) - NOT_SUBCOMMANDS:
        assert target.removeprefix("sweep-") in COMMANDS, target
    assert set(COMMANDS) == {t.removeprefix("sweep-") for t in set(TARGETS) - NOT_SUBCOMMANDS}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommands_help_lists_the_flag_of_every_option_it_takes(name):
    result = run_ksweep(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: ksweep {name} ")
    options = CATALOG.for_command(name)
    assert options, f"the catalog declares no option for {name}"
    for option in options:
        assert re.search(rf"(^|\s){re.escape(option.flag)}\b", result.stdout), (name, option.flag)


def test_every_make_variable_of_a_command_is_a_lower_case_dashed_flag():
    for option in CATALOG.options.values():
        if option.commands:
            assert not option.make_only and option.flag == "--" + option.var.lower().replace("_", "-")


def test_ksweep_alone_lists_the_commands_and_an_unknown_one_gets_a_did_you_mean():
    listed = run_ksweep("--help")
    assert listed.returncode == 0 and all(f"  {name} " in listed.stdout for name in COMMANDS)
    wrong = run_ksweep("swep")
    assert wrong.returncode == 2
    assert (
        wrong.stderr.strip()
        == "error: ksweep: no command 'swep' (did you mean sweep?); ksweep --help lists them"
    )


def test_a_bad_flag_value_is_the_make_variables_message_in_one_line(tmp_path):
    result = run_ksweep("sweep", "--jobs", "0", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == "error: argument --jobs: must be at least 1\n"
    assert list(tmp_path.iterdir()) == []


def test_the_command_the_make_target_and_the_script_say_the_same(tmp_path):
    missing = tmp_path / "nowhere"
    command = run_ksweep("analyze", "--sweep", missing, cwd=tmp_path)
    script = run_script("analyze_sweep.py", "--sweep", missing, cwd=tmp_path)
    make = run_make("sweep-analyze", f"SWEEP={missing}")
    assert command.returncode == script.returncode == 1 and make.returncode != 0
    line = command.stderr.strip()
    assert line.startswith("error: ") and script.stderr.strip() == line and line in make.stderr


def test_positional_and_flag_spellings_must_agree(tmp_path):
    result = run_ksweep("compare", "one", "two", "--a", "three", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: A given twice (one and three): give it once"


def test_list_defconfigs_through_the_command_and_make_agree():
    command = run_ksweep("list-defconfigs")
    make = run_make("list-defconfigs")
    assert command.returncode == make.returncode == 0
    assert command.stdout == make.stdout and "lenet5-digits-quick-range" in command.stdout


def test_hints_name_the_make_target_in_a_checkout_and_the_command_once_installed(monkeypatch):
    assert (
        command_line("sweep-resume", sweep="s", retry_failed=1) == "make sweep-resume SWEEP=s RETRY_FAILED=1"
    )
    monkeypatch.setattr(project, "CHECKOUT", False)
    assert (
        command_line("sweep-resume", sweep="s", retry_failed=1) == "ksweep resume --sweep s --retry-failed 1"
    )
    assert command_line("sweep") == "ksweep sweep" and command_line("menuconfig") == "ksweep menuconfig"
