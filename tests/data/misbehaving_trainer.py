#!/usr/bin/env python3
"""A TRAIN_COMMAND that misbehaves for some seeds and is the built-in trainer otherwise.

CONFIG_SEED=13: os.abort() (killed by SIGABRT); CONFIG_SEED=14: hangs forever;
any other config: exec `python -m models.train` with the same arguments.
"""

import os
import sys
import time
from pathlib import Path

config = sys.argv[sys.argv.index("--config") + 1]
lines = Path(config).read_text().splitlines()
seed = next((line.split("=")[1] for line in lines if line.startswith("CONFIG_SEED=")), "")
print(f"misbehaving trainer: seed {seed}", flush=True)
if seed == "13":
    os.abort()
if seed == "14":
    time.sleep(3600)
os.execv(sys.executable, [sys.executable, "-m", "models.train", *sys.argv[1:]])
