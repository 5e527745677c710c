#!/usr/bin/env python3
"""Generator benchmark: a 20,000-combination range file, generated and validated.

Baseline, measured in the same run: a bare itertools expansion of the same axes that
writes the same number of files, unvalidated (what the seed's generator does).
Target: ksweep at most 2x the baseline.

    .venv/bin/python bench/bench_generate.py [--quick]    (--quick: 200 configs, proves it runs)
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ksweep.config import generate  # noqa: E402
from ksweep.config.rangefile import parse_range_file  # noqa: E402

RANGE_TEXT = """\
CONFIG_MODEL_SELECT_LENET5=y
CONFIG_OPTIMIZER_SELECT_SGD=y|n
CONFIG_OPTIMIZER_SELECT_ADAMW=y|n
CONFIG_LEARNING_RATE=1e-4:1e-4:1e-3
CONFIG_WEIGHT_DECAY=0:0.01:0.09
CONFIG_SEED=1:1:20
CONFIG_BATCH_SIZE=32|64|128|256|512
"""  # 2 optimizers x 10 learning rates x 10 decays x 20 seeds x 5 batch sizes = 20,000 configs


def bare_baseline(axes, out: Path) -> int:
    """What the seed does: itertools.product, one file per combination, no checks."""
    out.mkdir()
    count = 0
    for count, combo in enumerate(itertools.product(*(a.values for a in axes)), start=1):
        lines = [f"CONFIG_{a.name}={v}" for a, v in zip(axes, combo, strict=True)]
        (out / f"config_{count:05d}").write_text("\n".join(lines) * 8 + "\n")  # about ksweep's file size
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 configs instead of 20,000")
    args = parser.parse_args()
    text = RANGE_TEXT.replace("CONFIG_SEED=1:1:20", "CONFIG_SEED=1").replace("1e-4:1e-4:1e-3", "1e-4|1e-3")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        range_path = tmp / "bench-range"
        range_path.write_text(text if args.quick else RANGE_TEXT)

        start = time.perf_counter()
        sweep = generate.expand_sweep(parse_range_file(range_path))
        configs = generate.expand(sweep)
        generate.write_sweep(sweep, configs, tmp / "ksweep", str(range_path))
        ksweep_seconds = time.perf_counter() - start

        # The choice pair yields 2 valid combinations; the bare loop sweeps one member y|n.
        axes = [a for a in parse_range_file(range_path) if a.name != "OPTIMIZER_SELECT_ADAMW"]
        start = time.perf_counter()
        baseline_count = bare_baseline(axes, tmp / "bare")
        bare_seconds = time.perf_counter() - start

    print(f"configs written: ksweep {len(configs)}, bare baseline {baseline_count}")
    print(f"ksweep generate (parse, validate, resolve, fold, write): {ksweep_seconds:.2f} s")
    print(f"bare itertools expansion writing the same number of files: {bare_seconds:.2f} s")
    print(f"ratio: {ksweep_seconds / bare_seconds:.2f}x (target <= 2.0x)")


if __name__ == "__main__":
    main()
