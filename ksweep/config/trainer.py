"""The built-in trainer (models/), as ksweep knows it: by name, never by import.

ksweep runs it as a command (`python -m models.train --config FILE --output-dir DIR`,
the trainer contract of any TRAIN_COMMAND) or as the fork server's entry point, and asks
its torch-free config checks before a sweep starts (a config the trainer would refuse
is said once, not run by run). The modules are looked up when used, so the library
installs and imports without models/ and no static import runs from ksweep into it.

Its name: `models` in a checkout of the repository (where the README runs `python -m
models.train`), `ksweep_trainer` once installed (pyproject.toml maps models/ to it, so
no package installs a module with a name as common as `models`). Its code imports itself
relatively, so both names run the same files.

It reads configs of the built-in Kconfig, or of a project's own Kconfig that defines its
symbols; a project's Kconfig without them is swept with a TRAIN_COMMAND of its own
(`unreadable` says so before anything is generated or run).
"""

from __future__ import annotations

import importlib
import shlex
import sys
from types import ModuleType

from ksweep.contract.project import CHECKOUT, CODE_ROOT

PACKAGE = "models" if CHECKOUT else "ksweep_trainer"
TRAINER_MODULE = f"{PACKAGE}.train"  # run(config, output_dir), warmup(), main(argv)
CHECKS_MODULE = f"{PACKAGE}.config"  # cross_checks(text, epochs, name), missing_symbols(kconf), torch-free
DESCRIPTION = f"built-in (python -m {TRAINER_MODULE})"


def command() -> list[str]:
    """The built-in trainer's argv, before its --config and --output-dir."""
    return [sys.executable, "-m", TRAINER_MODULE]


def command_text() -> str:
    return " ".join(shlex.quote(part) for part in command())


def describe(train_command: str | None) -> str:
    """What trains a sweep's runs, for reports."""
    return f"{train_command} (TRAIN_COMMAND)" if train_command else DESCRIPTION


def entry_point() -> ModuleType:
    """The trainer module the fork server warms up and calls in each forked run."""
    return _import(TRAINER_MODULE)


def checks() -> ModuleType:
    """The trainer's torch-free config checks (its cross-symbol rules, dataset sizes)."""
    return _import(CHECKS_MODULE)


def _import(name: str) -> ModuleType:
    # A checkout's models/ sits beside ksweep/, which is not always on sys.path (an editable
    # install finds ksweep alone); its runs get it through PYTHONPATH (launchers.base).
    if CHECKOUT and str(CODE_ROOT) not in sys.path:
        sys.path.insert(0, str(CODE_ROOT))
    return importlib.import_module(name)


def data_notes(texts: list[str]) -> list[str]:
    """Once per missing dataset, not once per run: the configs whose data is not in DATA_DIR."""
    missing_data = checks().missing_data
    found: dict[str, int] = {}
    for text in texts:
        if note := missing_data(text):
            found[note] = found.get(note, 0) + 1
    return [
        f"{count} of {len(texts)} runs: {note}, which fails offline (put the files there first)"
        for note, count in found.items()
    ]


def unreadable(kconf, kconfig_shown: str) -> str | None:
    """Why the built-in trainer cannot train configs of `kconf` (a project's own Kconfig that
    lacks its symbols), or None when it can."""
    missing = checks().missing_symbols(kconf)
    if not missing:
        return None
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return (
        f"the built-in trainer reads symbols that {kconfig_shown} does not define ({', '.join(missing[:3])}"
        f"{more}): give your own trainer with TRAIN_COMMAND (the trainer contract: --config, --output-dir)"
    )
