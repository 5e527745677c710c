"""What the command-line scripts share: importing the project from any working directory,
and each command's flags from the one declaration of every option (ksweep.options)."""

import argparse
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ksweep.cli.catalog import CATALOG  # noqa: E402
from ksweep.options import add_flags, resolve  # noqa: E402


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every option `command` takes (`--metric`, `--output`, ...)."""
    add_flags(parser, CATALOG.for_command(command))


def with_defaults(args: argparse.Namespace, command: str) -> argparse.Namespace:
    """Each option `command` takes that was not given, at its declared default
    (Make passes --mode= when MODE is unset: that is not given either)."""
    vars(args).update(resolve(CATALOG.for_command(command), vars(args)).as_dict())
    return args


class Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors: `error: argument --jobs: must be at least 1`."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def parser(doc: str, prog: str | None = None) -> Parser:
    return Parser(prog=prog, description=doc.splitlines()[0])


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
