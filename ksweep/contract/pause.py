"""Named pause points, so a test can stop the runner (or the built-in trainer) at an exact
instant instead of a lucky sleep.

    KSWEEP_PAUSE_AT=planned python scripts/run_test_matrix.py ...

stops the runner (SIGSTOP) when it reaches `pause_point("planned")`; the test waits for
the stopped state, then kills it or sends a signal and SIGCONT. Unset, a pause point
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "lock-taken",  # the sweep's flock is held, its pid not written yet
    "manifest-written",  # a new sweep's options are durable, its plan is not
    "planned",  # a new sweep's manifest and plan are written, the folder not yet named
    "warming-up",  # the launcher's server is starting (the built-in trainer warms up for seconds)
    "analysis",  # every run has ended; the final analysis is about to start
    "epoch-N",  # the built-in trainer is about to train epoch N (epoch N-1's last_epoch.pt is written)
)


def pause_point(name: str) -> None:
    if os.environ.get("KSWEEP_PAUSE_AT") == name:
        os.kill(os.getpid(), signal.SIGSTOP)
