"""BACKEND → the launcher that runs a sweep's runs: local (default), ray or slurm.

Whatever the backend, the sweep is the same (folder, plan, states, lock, resume,
retries, timeouts, summary, monitor): the backend only decides where a run executes.
Ray and Slurm are optional extras, imported only when asked for, with a message that
names the package when it is missing.
"""

from __future__ import annotations

import importlib
import importlib.util

from ksweep.launch import Launcher, LocalLauncher
from ksweep.scheduler import RunnerOptions

BACKENDS = ("local", "ray", "slurm")
EXTRAS = {"ray": ("ksweep.ray_backend", "ray"), "slurm": ("ksweep.slurm_backend", "submitit")}


class BackendError(ValueError):
    """The backend cannot be used here; the message says why and what to install."""


def check_backend(backend: str, backend_options: dict | None = None) -> None:
    """Refuse an unknown backend, or one whose package is not installed, before anything runs.
    Given the backend's options, also ask the backend module's own `check(options)`, where it
    has one (Slurm: are its commands there, does the controller answer, is the partition known)."""
    if backend not in BACKENDS:
        raise BackendError(f"BACKEND={backend}: not one of {', '.join(BACKENDS)}")
    if backend in EXTRAS and importlib.util.find_spec(EXTRAS[backend][1]) is None:
        raise BackendError(
            f"BACKEND={backend} needs the {EXTRAS[backend][1]} package, which is not installed: "
            f"pip install -r requirements-{backend}.txt"
        )
    if backend_options is not None and backend in EXTRAS and importlib.util.find_spec(EXTRAS[backend][0]):
        check = getattr(importlib.import_module(EXTRAS[backend][0]), "check", None)
        if check is not None:
            check(backend_options)


def make_launcher(options: RunnerOptions, runs: int) -> Launcher:
    """The launcher for `options.backend`, for a sweep with `runs` runs to do."""
    check_backend(options.backend)
    if options.backend == "local":
        return LocalLauncher(options.train_command, options.jobs, options.jobs_per_gpu)
    return importlib.import_module(EXTRAS[options.backend][0]).launcher(options, runs)
