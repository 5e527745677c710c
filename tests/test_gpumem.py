"""The GPU memory gate (ksweep/launchers/gpumem.py): which run may start on a GPU, from what NVML reads.
No GPU here: the decision is checked on readings, and the sweep on this machine is not gated."""

import os
import shutil

import pytest

from ksweep.launchers import gpumem
from ksweep.launchers.gpumem import OurRun, Reading

GIB = 1 << 30
ME = os.getpid()


def test_a_run_needs_its_share_of_the_gpu():
    assert gpumem.need(80 * GIB, 1) == int(72 * GIB)
    assert gpumem.need(80 * GIB, 4) == int(18 * GIB)


def test_a_gpu_another_job_fills_admits_no_run():
    another_users_job = Reading(total=80 * GIB, free=10 * GIB, used_by={99999: 70 * GIB})
    assert not gpumem.admits(another_users_job, gpumem.need(80 * GIB, 2), ours=[])
    assert gpumem.admits(Reading(80 * GIB, 79 * GIB), gpumem.need(80 * GIB, 2), ours=[])


def test_a_run_that_has_not_allocated_yet_keeps_its_share_reserved():
    needed = gpumem.need(80 * GIB, 2)  # 36 GiB each
    just_started = OurRun(pid=ME, age=2.0, sessions={})
    nothing_used_yet = Reading(total=80 * GIB, free=79 * GIB)
    # 79 free, 36 held for the first run: 43 left, enough for a second run, not a third.
    assert gpumem.admits(nothing_used_yet, needed, [just_started])
    assert not gpumem.admits(nothing_used_yet, needed, [just_started, OurRun(pid=ME + 1, age=1.0)])


def test_a_run_that_allocated_counts_once_not_twice():
    needed = gpumem.need(80 * GIB, 2)
    run = OurRun(pid=4242, age=300.0, sessions={4243: 4242})  # its trainer child holds the memory
    allocated = Reading(total=80 * GIB, free=44 * GIB, used_by={4243: 36 * GIB})
    assert gpumem.reserved(allocated, needed, [run]) == 0  # already out of `free`
    assert gpumem.admits(allocated, needed, [run])
    small = Reading(total=80 * GIB, free=70 * GIB, used_by={4243: 10 * GIB})
    assert gpumem.reserved(small, needed, [run]) == needed - 10 * GIB  # its share stays promised
    assert not gpumem.admits(Reading(80 * GIB, 40 * GIB, {4243: 10 * GIB}), needed, [run])


def test_a_run_nvml_never_sees_stops_being_reserved_after_a_minute():
    needed = gpumem.need(80 * GIB, 2)
    cpu_only = OurRun(pid=ME, age=gpumem.CLAIM_SECONDS + 1)
    assert gpumem.reserved(Reading(80 * GIB, 40 * GIB), needed, [cpu_only]) == 0


def test_the_waiting_line_says_what_is_free_and_what_a_run_needs():
    line = gpumem.waiting_line("1", Reading(80 * GIB, 10 * GIB), 36 * GIB, [])
    assert line == "  GPU     1: 10,240 MiB free for a new run, it needs 36,864 MiB; waiting"


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_without_nvml_nothing_is_gated():
    assert gpumem.read("0") is None
