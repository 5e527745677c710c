"""The machine a run uses and records: seeds, threads, device, and the `env` of training_metrics.json.

    env = base_env(config_path)                  # before the config is even parsed
    seed_everything(cfg.seed)
    threads = set_threads(cfg.cpu_threads)       # CPU_THREADS, else $KSWEEP_THREADS, else every core
    device = resolve_device(cfg.device)          # "auto": CUDA when present; ConfigError if absent
    env.update(device_env(device, threads))

A run sets all of this itself instead of trusting the interpreter it finds, because the
runner's fork server calls run() in forked children of one warmed-up process, and a
second run() in one process must give the same numbers as the first. CUDA is touched
first in resolve_device, never at import: a fork server must not initialise it.

Environment variables: KSWEEP_THREADS (torch threads when CPU_THREADS=0; the runner sets
it to the cores divided by the runs at once; with the config it fixes a CPU run's
metrics bit for bit on one machine and torch build) and KSWEEP_GIT_COMMIT (the commit recorded;
without it `git rev-parse HEAD` in the project, null when that fails).
"""

from __future__ import annotations

import os
import platform
import random
import socket
from pathlib import Path

import numpy as np
import torch

from ksweep.contract import gitstate
from ksweep.contract.cpus import usable_cpus
from ksweep.contract.records import config_hash

from .config import ConfigError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(cpu_threads: int) -> int:
    """Set torch's thread count: `cpu_threads`, else $KSWEEP_THREADS, else the cores this
    process may use. On the CPU the count changes the floating-point summation order, so it
    is the one environment input to a run's numbers: OMP_NUM_THREADS and MKL_NUM_THREADS are
    overridden here, and the same config with the same count gives the same metrics."""
    env = os.environ.get("KSWEEP_THREADS", "")
    if not cpu_threads and env and not env.isdigit():
        raise ConfigError(f"KSWEEP_THREADS={env} is not a whole number")
    threads = cpu_threads or int(env or 0) or _usable_cores()
    torch.set_num_threads(threads)
    return threads


def threads_source(cpu_threads: int) -> str:
    """Where set_threads took the count from, for the env record."""
    if cpu_threads:
        return "CPU_THREADS"
    return "KSWEEP_THREADS" if os.environ.get("KSWEEP_THREADS") else "cores"


def _usable_cores() -> int:
    return usable_cpus()  # affinity (taskset, cpusets, Slurm's binding) and cgroup CPU quota


def resolve_device(name: str) -> torch.device:
    """The torch device for DEVICE (auto, cpu, cuda, cuda:N), with CUDA's speed settings applied."""
    device = torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise ConfigError(f'DEVICE="{name}" but CUDA is not available on {socket.gethostname()}')
    if (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f'DEVICE="{name}" but this machine has {torch.cuda.device_count()} CUDA device(s)')
    torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
    torch.set_float32_matmul_precision("high")  # TF32 matmuls on GPUs that have them
    # With its index a device compares equal to the device of the tensors placed on it.
    return torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether `nbytes` of data may live on the GPU: a quarter of its free memory at most,
    leaving the rest to the model and its activations."""
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes < free // 4


def base_env(config_path: Path) -> dict:
    """The env record as far as it is known before the config is read."""
    try:
        digest = config_hash(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        digest = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": None,
        "device": None,
        "git_commit": git_commit(),
        "hostname": socket.gethostname(),
        "seed": None,
        "config_hash": digest,
    }


def device_env(device: torch.device, threads: int) -> dict:
    if device.type == "cuda":
        return {"cuda": torch.version.cuda, "device": torch.cuda.get_device_name(device), "threads": threads}
    return {"cuda": None, "device": f"cpu ({platform.processor() or platform.machine()})", "threads": threads}


def git_commit() -> str | None:
    # The runner passes the commit it recorded, sparing each run a `git rev-parse`.
    return os.environ.get("KSWEEP_GIT_COMMIT") or gitstate.git_commit()
