#!/usr/bin/env python3
"""The Makefile's view of ksweep's options (ksweep.options), with the system python3 before .venv exists.

python3 scripts/make_vars.py check NAME=VALUE ...   the variables typed on make's command line:
                                                    unknown ones (with a did-you-mean) and bad values,
                                                    on one line; exit 1 if any
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


def check(assignments: list[str]) -> int:
    typed = dict(arg.split("=", 1) for arg in assignments if "=" in arg)
    # Variables from the environment are checked too (JOBS=0 make sweep), but never refused as unknown.
    given = {o.var: os.environ[o.var] for o in CATALOG.options.values() if os.environ.get(o.var)}
    given.update(typed)
    problems = CATALOG.check_make_vars(given, typed=typed, allowed=MAKE_BUILTINS)
    if problems:  # one line: Make's $(shell) folds newlines into spaces
        print("; ".join(problems) + " (nothing was started)")
    return 1 if problems else 0


def flags(command: str) -> str:
    return " ".join(f"{o.var}:{o.flag}" for o in CATALOG.for_command(command) if not o.make_only)


def help_text() -> str:
    lines = ["Variables (each also a flag: JOBS=N is --jobs N; booleans take 1/y/yes/true or 0/n/no/false):"]
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
    if argv[:1] == ["check"]:
        return check(argv[1:])
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
