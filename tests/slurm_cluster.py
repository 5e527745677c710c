"""A real single-node Slurm for tests and benchmarks: scripts/local_slurm.sh in a temp dir.

    with local_slurm() as cluster:         # SlurmUnavailable (with the reason) when it cannot start
        subprocess.run([...], env={**os.environ, **cluster.env})

The pytest fixture `slurm` (tests/conftest.py) starts one for the whole session, or skips
its tests with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "local_slurm.sh"
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "srun")


class SlurmUnavailable(RuntimeError):
    """No local Slurm can start here; the message says why."""


@dataclass(frozen=True)
class SlurmCluster:
    state: Path

    @property
    def conf(self) -> Path:
        return self.state / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use this cluster (Slurm's commands read SLURM_CONF)."""
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """A Slurm command (squeue, scancel, ...) against this cluster."""
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env}
        )


def unavailable_reason() -> str | None:
    """Why no local Slurm can start here, or None when it may."""
    if os.geteuid() != 0:
        return "not root (the local Slurm's daemons run as root)"
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install slurmctld slurmd slurm-client munge)"
    return None


@contextmanager
def local_slurm() -> Iterator[SlurmCluster]:
    """Start a local Slurm in a fresh temp dir, stop it and remove the dir after."""
    reason = unavailable_reason()
    if reason:
        raise SlurmUnavailable(reason)
    state = Path(tempfile.mkdtemp(prefix="ksweep-slurm-"))  # in /tmp: munged needs a traversable path
    try:
        try:
            started = subprocess.run(
                [str(SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            raise SlurmUnavailable("scripts/local_slurm.sh start took over 60 s") from None
        if started.returncode != 0:
            lines = (started.stderr or started.stdout).strip().splitlines() or ["no output"]
            raise SlurmUnavailable(f"scripts/local_slurm.sh start failed: {lines[-1]}")
        yield SlurmCluster(state)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(state)], capture_output=True, timeout=60)
        shutil.rmtree(state, ignore_errors=True)
