#!/usr/bin/env python3
"""The Makefile's view of ksweep's options (ksweep.options), with the system python3 before .venv exists.

python3 scripts/make_vars.py check [--goals 'GOALS'] NAME=VALUE ...
                                                    the variables typed on make's command line:
                                                    unknown ones (with a did-you-mean), bad values, and
                                                    ones no goal takes, on one line; exit 1 if any
python3 scripts/make_vars.py flags COMMAND          VAR:--flag of each option COMMAND takes
python3 scripts/make_vars.py help                   the variables, for `make help`
python3 scripts/make_vars.py table                  the README's variables table
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ksweep.cli.catalog import CATALOG, MAKE_BUILTINS  # noqa: E402

# The Make targets that run one command of ksweep's, and which (the options' `commands`).
TARGETS = {
    "sweep": ("sweep",), "sweep-parallel": ("sweep", "parallel"), "sweep-generate": ("generate",),
    "sweep-run": ("run",), "sweep-resume": ("resume",), "sweep-analyze": ("analyze",),
    "sweep-export": ("export",), "sweep-reproduce": ("reproduce",), "sweep-monitor": ("monitor",),
    "sweep-watch": ("watch",), "sweep-leaderboard": ("leaderboard",), "sweep-compare": ("compare",),
    "sweep-promote": ("promote",), "defconfig": ("defconfig",), "savedefconfig": ("savedefconfig",),
    "olddefconfig": ("olddefconfig",), "menuconfig": ("menuconfig",), "list-defconfigs": ("list-defconfigs",),
}  # fmt: skip


def check(assignments: list[str], goals: list[str]) -> int:
    typed = dict(arg.split("=", 1) for arg in assignments if "=" in arg)
    # Variables from the environment are checked too (JOBS=0 make sweep), but never refused as unknown.
    given = {o.var: os.environ[o.var] for o in CATALOG.options.values() if os.environ.get(o.var)}
    given.update(typed)
    problems = CATALOG.check_make_vars(given, typed=typed, allowed=MAKE_BUILTINS)
    problems += unused(typed, goals)
    if problems:  # one line: Make's $(shell) folds newlines into spaces
        print("; ".join(problems) + " (nothing was started)")
    return 1 if problems else 0


def unused(typed: dict[str, str], goals: list[str]) -> list[str]:
    """Variables typed for targets that take none of them (`make sweep SWEEP=dir`: make sweep
    always starts a new sweep), when every goal is one of ksweep's commands."""
    if not goals or any(goal not in TARGETS for goal in goals):
        return []
    commands = {command for goal in goals for command in TARGETS[goal]}
    problems = []
    for var, value in typed.items():
        option = CATALOG.by_var(var)
        if option is None or not option.commands or commands & set(option.commands) or value == "":
            continue
        takers = [t for t, cs in TARGETS.items() if set(cs) & set(option.commands)]
        problems.append(
            f"{var}={value}: make {' '.join(goals)} does not take it (it is for make {', '.join(takers)})"
        )
    return problems


def flags(command: str) -> str:
    return " ".join(f"{o.var}:{o.flag}" for o in CATALOG.for_command(command) if not o.make_only)


def help_text() -> str:
    lines = [
        "Variables (each is also a flag of the ksweep command: JOBS=N is --jobs N; booleans take"
        " 1/y/yes/true or 0/n/no/false):"
    ]
    for option in CATALOG.options.values():
        lines.append(f"  {option.usage():34} {option.help}")
    return "\n".join(lines)


def table() -> str:
    rows = ["| variable | flag | what it sets | kept for resume | declared by |", "|---|---|---|---|---|"]
    for option in CATALOG.options.values():
        flag = "" if option.make_only else f"`{option.flag}`"
        kept = "yes" if option.kept else ""
        cells = [f"`{option.usage()}`", flag, option.help, kept, option.owner]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if argv[:2] == ["check", "--goals"]:
        return check(argv[3:], argv[2].split())
    if argv[:1] == ["check"]:
        return check(argv[1:], [])
    if argv[:1] == ["flags"] and len(argv) == 2:
        print(flags(argv[1]))
    elif argv == ["help"]:
        print(help_text())
    elif argv == ["table"]:
        print(table())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # `make help | head`
        sys.exit(0)
