#!/usr/bin/env python3
"""Check the Make variables a user typed, before any target starts (stdlib only: runs before .venv).

python3 scripts/check_make_vars.py NAME=VALUE ...   prints the bad variables on one line, exits 1 if any

The Makefile runs this when a checked variable is set, so `make sweep JOBS=0` or
`DRY_RUN=maybe` stops before sweep_configs/ is touched.
"""

from __future__ import annotations

import math
import sys

TRUE = ("1", "y", "yes", "true")
FALSE = ("0", "n", "no", "false")
BOOLEANS = ("DRY_RUN", "RETRY_FAILED", "STOP_ON_FAILURE", "QUICK")
# name → (smallest allowed, whole numbers only, smallest excluded)
NUMBERS = {
    "JOBS": (1, True, False),
    "PARALLEL": (1, True, False),
    "JOBS_PER_GPU": (1, True, False),
    "EPOCHS": (1, True, False),
    "RETRIES": (0, True, False),
    "MAX_CONFIGS": (1, True, False),
    "TOP": (1, True, False),
    "RUN_TIMEOUT": (0, False, True),
    "SLURM_GPUS": (0, True, False),
    "SLURM_CPUS": (1, True, False),
    "SAMPLES": (1, True, False),
    "SEARCH_SEED": (0, True, False),
    "PRUNER_MIN_EPOCHS": (1, True, False),
    "PRUNER_REDUCTION": (2, True, False),
    "REPEATS": (1, True, False),
}
CHOICES = {
    "MODE": ("max", "min"),
    "BACKEND": ("local", "ray", "slurm"),
    "SEARCH": ("grid", "random", "tpe"),
    "PRUNER": ("none", "median", "asha"),
}


def problem(name: str, value: str) -> str | None:
    if name in BOOLEANS and value.lower() not in TRUE + FALSE:
        return f"{name}={value}: expected 1/y/yes/true or 0/n/no/false"
    if name in CHOICES and value not in CHOICES[name]:
        return f"{name}={value}: expected {' or '.join(CHOICES[name])}"
    if name in NUMBERS:
        low, whole, exclusive = NUMBERS[name]
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            return f"{name}={value}: not {'a whole number' if whole else 'a number'}"
        if number < low or (exclusive and number == low):
            return f"{name}={value}: must be {'above' if exclusive else 'at least'} {low}"
    return None


def main(argv: list[str]) -> int:
    given = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    problems = [p for name, value in given.items() if (p := problem(name, value))]
    if "JOBS" in given and "PARALLEL" in given and given["JOBS"] != given["PARALLEL"]:
        jobs, parallel = given["JOBS"], given["PARALLEL"]
        problems.append(f"JOBS={jobs} and PARALLEL={parallel} disagree: they are one setting")
    if problems:  # one line: Make's $(shell) folds newlines into spaces
        print("; ".join(problems) + " (nothing was started)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
