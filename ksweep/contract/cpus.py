"""How many CPUs this process may really use: what a run's thread count should follow.

`os.cpu_count()` is the machine's; a process may be bound to fewer (taskset, a cpuset,
Slurm's task binding) and throttled to fewer still (a container's or Slurm's cgroup CPU
quota). More threads than that is the pathological case for OpenMP: a thread waiting at a
barrier for a partner that is not scheduled. Both the runner (a slot's KSWEEP_THREADS) and
the built-in trainer (its default thread count) use this.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> int:
    """The CPUs this process may use: its affinity, capped by its cgroup's CPU quota (whole CPUs)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root, proc_cgroup)
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    return max(1, count)


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> float | None:
    """The CPU quota of this process's cgroup and its ancestors (quota / period, the smallest
    on the path), cgroup v2 or v1; None when unlimited or unknown."""
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    quotas = []
    for line in proc_cgroup.splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            quotas += [_v2_quota(folder) for folder in _folders(root, path)]
        elif "cpu" in controllers.split(","):
            base = root / controllers if (root / controllers).is_dir() else root / "cpu"
            quotas += [_v1_quota(folder) for folder in _folders(base, path)]
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def _folders(base: Path, path: str) -> list[Path]:
    """The cgroup folder of `path` under `base` and its ancestors up to `base` (inside a cgroup
    namespace the path is `/`: only `base` itself)."""
    folder = base / path.strip("/")
    chain = [folder, *folder.parents]
    return [f for f in chain if f == base or base in f.parents]


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
