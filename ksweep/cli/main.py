"""The `ksweep` command: the Make targets as subcommands, the Make variables as flags.

    ksweep sweep [RANGE_CONFIG] [--jobs N] [--epochs N] ...   make sweep RANGE_CONFIG=... JOBS=N EPOCHS=N
    ksweep resume --sweep DIR                                 make sweep-resume SWEEP=DIR
    ksweep analyze --metric val_loss                          make sweep-analyze METRIC=val_loss
    ksweep <command> --help                                   its flags

A subcommand is a Make target without `sweep-`; a flag is a Make variable in lower case
with dashes (JOBS=2 is --jobs 2, TRAIN_COMMAND= is --train-command). Both come from one
declaration of each option (ksweep.options, gathered in ksweep.cli.catalog), and each
subcommand is the one implementation its Make target and its scripts/*.py run
(ksweep.cli.<module>.main): same messages, same exit codes. `python -m ksweep` is the same
command; the Makefile calls it so.

This module is the standard library only until a subcommand runs: `ksweep --help` is quick,
and a Ctrl-C while a sweep's command is still importing is one line, not a traceback.
"""

from __future__ import annotations

import difflib
import importlib
import os
import signal
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    module: str  # ksweep.cli.<module>, whose main(argv, prog, **fixed) runs it
    help: str  # one line, as `make help` says it
    fixed: dict = field(default_factory=dict)  # the module's own name for it (resume, watch, ...)
    guarded: bool = False  # it starts runs: a Ctrl-C while it starts is one line


def _kconfig(target: str, help: str) -> Command:
    return Command("kconfig", help, {"command": target})


COMMANDS = {
    "sweep": Command("sweep", "generate, run and analyze RANGE_CONFIG (default: the quick embedded sweep)",
                     guarded=True),
    "generate": Command("generate", "expand RANGE_CONFIG into sweep_configs/"),
    "run": Command("run", "run sweep_configs/ into a new sweep dir (or extend --sweep DIR)",
                   {"command": "run"}, guarded=True),
    "resume": Command("run", "continue the newest sweep (or --sweep DIR) from its own plan",
                      {"command": "resume"}, guarded=True),
    "analyze": Command("analyze", "write sweep_summary.json, sweep_analysis.txt and plots"),
    "monitor": Command("monitor", "show the progress of the newest sweep (or --sweep DIR) once",
                       {"command": "monitor"}),
    "watch": Command("monitor", "like monitor, refreshing every few seconds", {"command": "watch"}),
    "leaderboard": Command("leaderboard", "best runs across all sweeps"),
    "compare": Command("compare", "compare two sweeps: ksweep compare A B"),
    "promote": Command("promote", "top --top 3 runs of a sweep → sweep_configs/ (--epochs N: train longer)"),
    "export": Command("export", "log the newest sweep (or --sweep DIR) to --tracker mlflow,tensorboard,..."),
    "reproduce": Command("reproduce", "train a run again from its folder alone; do its metrics match?"),
    "defconfig": _kconfig("defconfig", "write .config from a defconfig (default: lenet5-digits)"),
    "savedefconfig": _kconfig("savedefconfig", "save .config's non-default values to ./defconfig"),
    "olddefconfig": _kconfig("olddefconfig", "update .config, new symbols at their defaults"),
    "menuconfig": _kconfig("menuconfig", "edit .config in a terminal menu"),
    "list-defconfigs": _kconfig("list-defconfigs", "list the defconfigs and range files"),
}  # fmt: skip


def usage() -> str:
    lines = [
        "usage: ksweep COMMAND [options]      (ksweep COMMAND --help: its options)",
        "",
        "Kconfig-driven hyperparameter sweeps for PyTorch. Commands (the Make targets without sweep-):",
    ]
    lines += [f"  {name:16} {command.help}" for name, command in COMMANDS.items()]
    lines += [
        "",
        "Every Make variable is a flag: JOBS=2 is --jobs 2, TRAIN_COMMAND='...' is --train-command '...'.",
        "Run it in a folder with a Kconfig of its own to sweep that project's symbols (or --kconfig FILE).",
    ]
    return "\n".join(lines)


def _stopped_while_starting(signum, frame) -> None:
    print("  STOP    interrupted while starting; nothing was started", file=sys.stderr)
    raise SystemExit(130)


def guard_start() -> None:
    """Until the run stage takes over its signals (ksweep.run.stage.StopSignals), a Ctrl-C or a
    TERM (while importing or generating) is one line: nothing was started."""
    signal.signal(signal.SIGINT, _stopped_while_starting)
    signal.signal(signal.SIGTERM, _stopped_while_starting)


def run_module(module: str, argv: list[str], prog: str | None = None, guarded: bool = False, **fixed) -> int:
    """Run ksweep.cli.<module>'s main (scripts/*.py call this too); its exit code."""
    if guarded:
        guard_start()
    try:
        return importlib.import_module(module).main(argv, prog=prog, **fixed)
    except BrokenPipeError:  # `ksweep list-defconfigs | head` stops reading early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"ksweep {version('ksweep')}")
        except PackageNotFoundError:
            print("ksweep (a checkout, not installed)")
        return 0
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name) or COMMANDS.get(name.removeprefix("sweep-"))
    if command is None:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        print(f"error: ksweep: no command {name!r}{hint}; ksweep --help lists them", file=sys.stderr)
        return 2
    return run_module(
        f"ksweep.cli.{command.module}", rest, f"ksweep {name}", command.guarded, **command.fixed
    )


if __name__ == "__main__":
    sys.exit(main())
