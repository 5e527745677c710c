"""What every command shares: its parser (one-line errors), the flags of the options it takes
(from the one declaration of each, ksweep.options), and the Kconfig it works against.

Each command's module (ksweep.cli.<command>) builds its parser here and has a `main(argv,
prog)`; the `ksweep` command (ksweep.cli.main), the Makefile and scripts/*.py all call it.
"""

from __future__ import annotations

import argparse
import sys

from ksweep.cli.catalog import CATALOG
from ksweep.options import add_flags, resolve


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors: `error: argument --jobs: must be at least 1`."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def parser(doc: str, prog: str | None = None) -> Parser:
    """A command's parser: its description is the first line of its module's docstring."""
    return Parser(prog=prog, description=doc.strip().splitlines()[0])


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every option `command` takes (`--metric`, `--output`, ...)."""
    add_flags(parser, CATALOG.for_command(command))


def with_defaults(args: argparse.Namespace, command: str) -> argparse.Namespace:
    """Each option `command` takes that was not given, at its declared default
    (Make passes --mode= when MODE is unset: that is not given either)."""
    vars(args).update(resolve(CATALOG.for_command(command), vars(args)).as_dict())
    return args


def one_of(parser: argparse.ArgumentParser, flag_value, positional_value, what: str):
    """An option given as its flag (`--range-config F`) or as the positional argument (`F`):
    the one given, the same one twice, or a usage error when they differ."""
    if flag_value and positional_value and flag_value != positional_value:
        parser.error(f"{what} given twice ({positional_value} and {flag_value}): give it once")
    return flag_value or positional_value


def use_kconfig(args: argparse.Namespace) -> int | None:
    """Choose the Kconfig the command works against (--kconfig, else ./Kconfig, else the
    built-in one; ksweep.config.kconf.use_kconfig): None, or 2 with the one-line reason said."""
    from ksweep.config.kconf import KconfigProblem
    from ksweep.config.kconf import use_kconfig as choose

    try:
        choose(getattr(args, "kconfig", None))
    except KconfigProblem as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return None
