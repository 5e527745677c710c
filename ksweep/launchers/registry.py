"""BACKEND → the launcher that runs a sweep's runs: local (default), ray or slurm.

Whatever the backend, the sweep is the same (folder, plan, states, lock, resume,
retries, timeouts, summary, monitor): the backend only decides where a run executes.
A backend is a module with `launcher(options, runs)` and, optionally, `check(options)`
(run before anything is written); its options are declared in ksweep.launchers.options.
Ray and Slurm are optional extras, imported only when asked for, with a message that
names the package when it is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ksweep.contract import extras
from ksweep.launchers.base import Launcher, LocalLauncher
from ksweep.launchers.options import BACKENDS
from ksweep.options import Values


@dataclass(frozen=True)
class Backend:
    module: str  # has launcher(options, runs) and maybe check(options)
    package: str  # what must be installed (the extra named as the backend installs it)
    title: str  # its name in messages


EXTERNAL = {
    "ray": Backend("ksweep.launchers.ray", "ray", "Ray"),
    "slurm": Backend("ksweep.launchers.slurm", "submitit", "submitit"),
}


class BackendError(ValueError):
    """The backend cannot be used here; the message says why and what to install."""


def check_backend(options: Values, ask_backend: bool = True) -> None:
    """Refuse an unknown backend, or one whose package is not installed, before anything runs;
    then ask the backend module's own `check(options)`, where it has one (Slurm: are its
    commands there, does the controller answer, is the partition known)."""
    if options.backend not in BACKENDS:
        raise BackendError(f"BACKEND={options.backend}: not one of {', '.join(BACKENDS)}")
    backend = EXTERNAL.get(options.backend)
    if backend is None:
        return
    problem = extras.missing(f"BACKEND={options.backend}", backend.package, backend.title, options.backend)
    if problem:
        raise BackendError(problem)
    check = getattr(importlib.import_module(backend.module), "check", None)
    if ask_backend and check is not None:
        check(options)


def make_launcher(options: Values, runs: int) -> Launcher:
    """The launcher for `options.backend`, for a sweep with `runs` runs to do."""
    check_backend(options, ask_backend=False)
    if options.backend == "local":
        return LocalLauncher(options.train_command, options.jobs, options.jobs_per_gpu)
    return importlib.import_module(EXTERNAL[options.backend].module).launcher(options, runs)
