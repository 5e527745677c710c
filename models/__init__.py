"""The built-in trainer: `python -m models.train --config FILE --output-dir DIR` (see train.py)."""

import os

# Before torch loads OpenMP: threads that wait sleep instead of spinning, so a run on a busy
# machine slows by its fair share, not by 30-80x (ksweep.launchers.base.RUN_ENV_DEFAULTS says
# why). The arithmetic, and so a run's numbers, are the same either way; a user's own setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
