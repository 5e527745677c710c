"""Options: every setting of ksweep declared once, by the part that owns it.

A setting is an `Option`: its name (`jobs`), and from it the Make variable (`JOBS`)
and the flag (`--jobs`); its kind and check (`at_least=1`, `choices=`), its default,
its help line, whether a sweep keeps it in sweep.json for a resume, and its owner.
The owner declares it beside its code (the run stage its knobs, each launcher,
searcher and tracker its own, see the `options.py` of each sub-package), the way
submitit's executors declare their parameters; `ksweep.cli.catalog` gathers them.

From the declarations come the commands' flags (`add_flags`), the check of Make
variables before a target starts (unknown ones refused with a did-you-mean, bad values
with the reason), what sweep.json keeps, `make help`'s variable list and the README's
variables table. Adding an option is its declaration plus the code that uses it:

    JOBS = Option("jobs", int, at_least=1, help="runs at once (default: 1, or one per GPU)", kept=True)

This module is the standard library only: the Makefile runs it with the system
python3, before .venv exists (scripts/make_vars.py).
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUE = ("1", "y", "yes", "true")
FALSE = ("0", "n", "no", "false")


class OptionError(ValueError):
    """A setting's value is not one it takes; the message names the variable and says why."""


@dataclass(frozen=True)
class Option:
    name: str  # the Python name: `jobs`; the Make variable is JOBS, the flag --jobs
    kind: type = str  # str, int, float or bool
    help: str = ""
    default: Any = None
    at_least: float | None = None
    above: float | None = None  # strictly greater (RUN_TIMEOUT=0 is refused)
    choices: tuple[str, ...] = ()
    listed: bool = False  # a comma-separated list, each entry one of `choices` (MODE=max,min)
    kept: bool = False  # kept in sweep.json: a resume runs as the sweep was started
    owner: str = ""  # the stage, launcher, strategy or tracker that declares it
    commands: tuple[str, ...] = ()  # the commands that take it (sweep, run, analyze, ...)
    flags: tuple[str, ...] = ()  # other flag spellings (the seed's --override-epochs)
    same_as: str | None = None  # another spelling of that option (PARALLEL is JOBS)
    make_only: bool = False  # a Make variable with no flag (V, QUICK): the Makefile uses it itself
    metavar: str | None = None
    exists: bool = False  # a path that must exist (KCONFIG): checked as Make reads it, before anything
    environment: bool = False  # also set as the environment variable VAR (RAY_ADDRESS: Ray reads it there)

    @property
    def var(self) -> str:
        return self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def target(self) -> str:
        """The option this one sets (itself, or the one it is another spelling of)."""
        return self.same_as or self.name

    def parse(self, text: str) -> Any:
        """`text` as this option's value; OptionError saying why it is not one."""
        text = str(text)
        if self.kind is bool:
            if text.lower() in TRUE:
                return True
            if text.lower() in FALSE:
                return False
            raise OptionError(f"{self.var}={text}: expected 1/y/yes/true or 0/n/no/false")
        entries = text.split(",") if self.listed else [text]
        if self.choices and any(entry not in self.choices for entry in entries):
            each = " for each entry" if len(entries) > 1 else ""
            raise OptionError(f"{self.var}={text}: expected {' or '.join(self.choices)}{each}")
        if self.kind in (int, float):
            return self._number(text)
        if self.exists and text and not Path(text).exists():
            raise OptionError(f"{self.var}={text}: no such file or folder")
        return text

    def _number(self, text: str) -> int | float:
        what = "a whole number" if self.kind is int else "a number"
        try:
            value = self.kind(text)
        except ValueError:
            raise OptionError(f"{self.var}={text}: not {what}") from None
        if not math.isfinite(value):
            raise OptionError(f"{self.var}={text}: not {what}")
        if self.at_least is not None and value < self.at_least:
            raise OptionError(f"{self.var}={text}: must be at least {self.at_least:g}")
        if self.above is not None and value <= self.above:
            raise OptionError(f"{self.var}={text}: must be above {self.above:g}")
        return value

    def usage(self) -> str:
        """`JOBS=N`, `MODE=max|min`, `DRY_RUN=1`: how the variable is written in help."""
        if self.metavar:
            return f"{self.var}={self.metavar}"
        if self.choices:
            alternatives = "|".join(self.choices)
            return f"{self.var}={alternatives}" + (f"[,{alternatives}]" if self.listed else "")
        if self.kind is bool:
            return f"{self.var}=1"
        return f"{self.var}={'N' if self.kind is int else 'x' if self.kind is float else 'text'}"


@dataclass
class Catalog:
    """All declared options, by name, with the checks that need them all."""

    options: dict[str, Option] = field(default_factory=dict)

    @classmethod
    def of(cls, *groups: Iterable[Option]) -> Catalog:
        catalog = cls()
        for option in (o for group in groups for o in group):
            if option.name in catalog.options:
                raise ValueError(f"option {option.var} is declared twice")
            catalog.options[option.name] = option
        return catalog

    def by_var(self, var: str) -> Option | None:
        return self.options.get(var.lower()) if var == var.upper() else None

    def for_command(self, command: str) -> list[Option]:
        return [o for o in self.options.values() if command in o.commands]

    def kept(self) -> list[Option]:
        return [o for o in self.options.values() if o.kept]

    def check_make_vars(self, given: dict[str, str], typed: Iterable[str] = (), allowed=()) -> list[str]:
        """Problems with Make variables: `given` (name → value) are checked; `typed` are the
        names the user typed on the command line, refused when no option declares them."""
        problems = []
        names = [o.var for o in self.options.values()]
        for var in typed:
            if var not in names and var not in allowed:
                close = difflib.get_close_matches(var.upper(), names, n=1, cutoff=0.75)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{var}={given.get(var, '')}: unknown variable{hint}".replace("=:", ":"))
        for var, value in given.items():
            option = self.by_var(var)
            if option is None or value == "":
                continue
            try:
                option.parse(value)
            except OptionError as err:
                problems.append(str(err))
        problems += self._disagreements(given)
        return problems

    def _disagreements(self, given: dict[str, str]) -> list[str]:
        out = []
        for option in self.options.values():
            other = self.options.get(option.same_as or "")
            mine, theirs = given.get(option.var), given.get(other.var) if other else None
            if other and mine and theirs and mine != theirs:
                out.append(f"{other.var}={theirs} and {option.var}={mine} disagree: they are one setting")
        return out


def add_flags(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    """One flag per option (`--jobs N`; a bool takes `--dry-run` or `--dry-run=0`), each
    checked by the option itself so a flag and its Make variable fail with one message."""
    for option in options:
        if option.make_only:
            continue
        spellings = [option.flag, *option.flags]
        dest = option.target
        if option.kind is bool:
            parser.add_argument(
                *spellings, dest=dest, nargs="?", const=True, default=None, type=_typed(option),
                help=option.help.replace("%", "%%"),
            )  # fmt: skip
        else:
            parser.add_argument(
                *spellings, dest=dest, default=None, type=_typed(option), help=option.help.replace("%", "%%"),
                metavar=option.metavar or option.var,
            )  # fmt: skip


def _typed(option: Option):
    def parse(text: str):
        if option.kind is not bool and text == "":  # Make passes --mode= when MODE is unset
            return None
        try:
            return option.parse(text)
        except OptionError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[1]) from None

    parse.__name__ = option.var  # argparse names the type in its error
    return parse


class Values:
    """A command's settings, resolved: each option's value by name (`values.jobs`)."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Values({self.__dict__!r})"

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def replace(self, **changes: Any) -> Values:
        return Values({**self.__dict__, **changes})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def export_environment(options: Iterable[Option], values: Values) -> None:
    """Set the environment variable of each option that is one (RAY_ADDRESS) and has a value."""
    for option in options:
        value = values.get(option.name)
        if option.environment and value:
            os.environ[option.var] = str(value)


def resolve(options: Iterable[Option], *sources: dict[str, Any]) -> Values:
    """Each option's value from the first source that has one (not None), else its default."""
    values = {}
    for option in options:
        if option.same_as:
            continue
        found = next((s[option.name] for s in sources if s.get(option.name) is not None), None)
        values[option.name] = option.default if found is None else found
    return Values(values)
