"""The built-in trainer (models/), as ksweep knows it: by name, never by import.

ksweep runs it as a command (`python -m models.train --config FILE --output-dir DIR`,
the trainer contract of any TRAIN_COMMAND) or as the fork server's entry point, and asks
its torch-free config checks before a sweep starts (a config the trainer would refuse
is said once, not run by run). The modules are looked up when used, so the library
installs and imports without models/ and no static import runs from ksweep into it.
"""

from __future__ import annotations

import importlib
import shlex
import sys
from types import ModuleType

TRAINER_MODULE = "models.train"  # run(config, output_dir), warmup(), main(argv)
CHECKS_MODULE = "models.config"  # cross_checks(text, epochs, name), torch-free
DESCRIPTION = "built-in (python -m models.train)"


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
    return importlib.import_module(TRAINER_MODULE)


def checks() -> ModuleType:
    """The trainer's torch-free config checks (its cross-symbol rules, dataset sizes)."""
    return importlib.import_module(CHECKS_MODULE)


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
