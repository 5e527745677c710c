#!/usr/bin/env python3
"""Expand a range defconfig into sweep_configs/config_NNN (see ksweep/generate.py).

python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR] [--max-configs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep import generate
from ksweep.paths import CONFIG_DIR, NotFound, display, find_defconfig
from ksweep.rangefile import RangeFileError, parse_range_text

TYPICAL_RUN_SECONDS = 32 * 60  # the seed guide's figure for one full ResNet-18 run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("range_file", help="range defconfig: a path or a name under defconfigs/")
    parser.add_argument("out_dir", nargs="?", default=str(CONFIG_DIR), help="default: sweep_configs")
    parser.add_argument("--max-configs", type=int, default=generate.DEFAULT_MAX_CONFIGS)
    parser.add_argument("--repeats", type=int, default=1, help="each config with this many seeds (REPEATS)")
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
        given = Path(args.range_file)
        if not given.is_file() and given.parent != Path("."):  # a bare name is a defconfigs/ name
            print(f"note: {args.range_file} does not exist; using {source}", file=sys.stderr)
        text = _read(path, source)
        axes = generate.with_repeats(parse_range_text(text, source), args.repeats, source)
        sweep = generate.expand_sweep(axes, source=source)
        generate.check_size(sweep, args.max_configs, args.run_minutes * 60)
        configs = generate.expand(sweep)
        sweep.warnings += generate.trainer_warnings(sweep, configs)
        provenance = generate.provenance(args.range_file, path, text, sweep, configs)
        generate.write_sweep(sweep, configs, args.out_dir, source, provenance)
    except RangeFileError as err:
        print(str(err), file=sys.stderr)
        return 1
    except (NotFound, generate.SweepTooLarge) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        reason = err.strerror or err
        print(f"error: cannot write {args.out_dir}/ ({reason}); nothing changed", file=sys.stderr)
        return 1
    print_report(sweep, configs, args.out_dir, source)
    return 0


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RangeFileError(
            source, 0, None, f"cannot read: {getattr(err, 'strerror', None) or err}"
        ) from None


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def print_report(sweep: generate.Expansion, configs: list, out_dir: str, source: str) -> None:
    for warning in sweep.warnings:
        print(warning, file=sys.stderr)
    folded = sweep.combinations - len(configs)
    print(
        f"  GEN     {out_dir}/: {_count(len(configs), 'config')} from "
        f"{_count(sweep.combinations, 'combination')}"
        + (f", {folded} folded" if folded else "")
        + f" ({source})"
    )
    if sweep.dropped:
        print(f"          dropped {sweep.dropped}: they do not select exactly one member of a swept choice")
    for reason, count in sweep.folded.items():
        print(f"          folded {count}: {reason}")
    first = " ".join(f"{k}={v}" for k, v in configs[0].values.items() if v is not None)
    print(
        f"          first: {out_dir}/config_{1:0{max(3, len(str(len(configs))))}d}"
        + (f"  {first}" if first else "")
    )


if __name__ == "__main__":
    sys.exit(main())
