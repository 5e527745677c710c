#!/usr/bin/env python3
"""Expand a range defconfig into sweep_configs/config_NNN (see ksweep/generate.py).

python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR] [--max-configs N]
"""

from __future__ import annotations

import argparse
import sys

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep import generate
from ksweep.paths import CONFIG_DIR, NotFound, display, find_defconfig
from ksweep.rangefile import RangeFileError, parse_range_file

TYPICAL_RUN_SECONDS = 32 * 60  # the seed guide's figure for one full ResNet-18 run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("range_file", help="range defconfig: a path or a name under defconfigs/")
    parser.add_argument("out_dir", nargs="?", default=str(CONFIG_DIR), help="default: sweep_configs")
    parser.add_argument("--max-configs", type=int, default=generate.DEFAULT_MAX_CONFIGS)
    parser.add_argument(
        "--run-minutes",
        type=float,
        default=TYPICAL_RUN_SECONDS / 60,
        help="typical minutes per run, for the size warning (default: 32)",
    )
    args = parser.parse_args(argv)
    try:
        path = find_defconfig(args.range_file)
        source = display(path)
        sweep = generate.plan_sweep(parse_range_file(source))
        generate.check_size(sweep, args.max_configs, args.run_minutes * 60)
        configs = generate.expand(sweep)
        generate.write_sweep(sweep, configs, args.out_dir, source)
    except (RangeFileError, NotFound, generate.SweepTooLarge) as err:
        print(f"error: {err}" if not isinstance(err, RangeFileError) else str(err), file=sys.stderr)
        return 1
    print_report(sweep, configs, args.out_dir)
    return 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def print_report(sweep: generate.Sweep, configs: list, out_dir: str) -> None:
    for warning in sweep.warnings:
        print(warning, file=sys.stderr)
    folded = sweep.combinations - len(configs)
    print(
        f"  GEN     {out_dir}/: {_count(len(configs), 'config')} from "
        f"{_count(sweep.combinations, 'combination')}" + (f", {folded} folded" if folded else "")
    )
    for reason, count in sweep.folded.items():
        print(f"          folded {count}: {reason}")
    first = " ".join(f"{k}={v}" for k, v in configs[0].values.items() if v is not None)
    print(
        f"          first: {out_dir}/config_{1:0{max(3, len(str(len(configs))))}d}"
        + (f"  {first}" if first else "")
    )


if __name__ == "__main__":
    sys.exit(main())
