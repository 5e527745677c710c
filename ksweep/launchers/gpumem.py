"""The memory gate of local GPU packing: a run starts on a GPU only when that GPU has the
memory for it now.

A GPU is shared with whatever else runs on the box (another user's job, a notebook) and
with this sweep's own earlier runs, which may not have allocated yet. So before a run is
given a GPU, its free memory is read through NVML (nvidia-ml-py), and what this sweep's
runs there may still claim is subtracted:

    need      = the GPU's memory x 0.9 / JOBS_PER_GPU (a run's share; 10% for contexts)
    reserved  = for each of our runs on it: need - what NVML shows it using, or all of
                `need` while it is younger than CLAIM_SECONDS and NVML shows nothing
    admitted  when free - reserved >= need

A run that is not admitted waits for a free slot on another GPU or for memory to free up;
the runner says so once per GPU. Where NVML cannot be read (no driver library, no
nvidia-ml-py) nothing is gated. Nothing here resets, configures or allocates on a GPU.

The same readings are the runs' GPU telemetry: while a run holds a GPU, the launcher
samples (about once a second) the memory its processes hold there and the device's
utilisation; `Usage` keeps the peak and the mean, recorded with the run.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

SHARE = 0.9
CLAIM_SECONDS = 60.0  # a run that shows no GPU memory by then is taken to need none
MIB = 1 << 20


@dataclass(frozen=True)
class Reading:
    """One GPU's memory now, in bytes; `used_by`: what each process on it holds."""

    total: int
    free: int
    used_by: dict[int, int] = field(default_factory=dict)
    utilisation: float | None = None  # the device's, percent


@dataclass(frozen=True)
class OurRun:
    pid: int  # the run's session (every process it started is in it)
    age: float  # seconds since it started
    sessions: dict[int, int] = field(default_factory=dict)  # NVML pid -> its session id


def need(total: int, jobs_per_gpu: int) -> int:
    return int(total * SHARE / jobs_per_gpu)


def claimed(reading: Reading, run: OurRun) -> int:
    """What NVML shows the run's processes holding."""
    return sum(used for pid, used in reading.used_by.items() if run.sessions.get(pid) == run.pid)


def reserved(reading: Reading, needed: int, ours: list[OurRun]) -> int:
    total = 0
    for run in ours:
        holds = claimed(reading, run)
        if holds or run.age < CLAIM_SECONDS:
            total += max(0, needed - holds)
    return total


def admits(reading: Reading, needed: int, ours: list[OurRun]) -> bool:
    return reading.free - reserved(reading, needed, ours) >= needed


def waiting_line(gpu: str, reading: Reading, needed: int, ours: list[OurRun]) -> str:
    left = (reading.free - reserved(reading, needed, ours)) / MIB
    return f"  GPU     {gpu}: {left:,.0f} MiB free for a new run, it needs {needed / MIB:,.0f} MiB; waiting"


@dataclass
class Usage:
    """A run's GPU samples: the memory its processes held (MiB) and the device's utilisation (%)."""

    memory: list[float] = field(default_factory=list)
    utilisation: list[float] = field(default_factory=list)

    def add(self, reading: Reading, run: OurRun) -> None:
        self.memory.append(claimed(reading, run) / MIB)
        if reading.utilisation is not None:
            self.utilisation.append(reading.utilisation)

    def summary(self) -> dict | None:
        if not self.memory:
            return None
        util = self.utilisation
        return {
            "gpu_mem_peak_mb": round(max(self.memory), 1),
            "gpu_mem_mean_mb": round(sum(self.memory) / len(self.memory), 1),
            "gpu_util_mean": round(sum(util) / len(util), 1) if util else None,
            "gpu_samples": len(self.memory),
        }


def read(gpu: str) -> Reading | None:
    """GPU `gpu` (an NVML index or UUID, as CUDA_VISIBLE_DEVICES names it) now, or None
    when NVML cannot be read here."""
    try:
        import pynvml  # nvidia-ml-py: only on a machine with a GPU

        pynvml.nvmlInit()
        if gpu.isdigit():
            handle = pynvml.nvmlDeviceGetHandleByIndex(int(gpu))
        else:
            handle = pynvml.nvmlDeviceGetHandleByUUID(gpu)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        processes = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        utilisation = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
    except Exception:  # ImportError, NVMLError (no driver, no such GPU): nothing to gate with
        return None
    used = {p.pid: p.usedGpuMemory or 0 for p in processes}
    return Reading(memory.total, memory.free, used, float(utilisation))


def session_of(pids) -> dict[int, int]:
    sessions = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # gone, or another container's pid
            sessions[pid] = os.getsid(pid)
    return sessions
