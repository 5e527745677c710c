"""The built-in trainer: `python -m models.train --config FILE --output-dir DIR` (see train.py)."""

import os

# Before torch loads OpenMP: waiting threads spin briefly, then sleep, so a run on a busy
# machine slows by about its fair share, not by 50x (ksweep.launchers.base.RUN_ENV_DEFAULTS
# says why). The arithmetic, and so a run's numbers, are the same either way; a user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
