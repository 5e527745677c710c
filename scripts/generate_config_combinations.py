#!/usr/bin/env python3
"""Expand a range defconfig into sweep_configs/config_NNN (see ksweep/config/generate.py).

python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR] [--max-configs N] [--repeats k]
"""

from __future__ import annotations

import sys
from pathlib import Path

import _cli

from ksweep.config import generate
from ksweep.config import options as config_options
from ksweep.config.defconfigs import find_defconfig
from ksweep.config.rangefile import RangeFileError
from ksweep.contract.project import NotFound, display
from ksweep.options import add_flags, resolve


def main(argv: list[str] | None = None) -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("range_file", help="range defconfig: a path or a name under defconfigs/")
    parser.add_argument("out_dir", nargs="?", help="default: sweep_configs (CONFIG_DIR)")
    add_flags(parser, options := [o for o in config_options.OPTIONS if "generate" in o.commands])
    parser.add_argument(
        "--run-minutes",
        type=float,
        default=generate.TYPICAL_RUN_SECONDS / 60,
        help="typical minutes per run, for the size warning (default: 32)",
    )
    args = parser.parse_args(argv)
    values = resolve(options, vars(args))
    out_dir = args.out_dir or values.config_dir
    given = Path(args.range_file)
    try:
        if not given.is_file() and given.parent != Path("."):  # a bare name is a defconfigs/ name
            print(
                f"note: {args.range_file} does not exist; using {display(find_defconfig(given))}",
                file=sys.stderr,
            )
        sweep, configs, source = generate.generate(
            args.range_file, out_dir, values.max_configs, values.repeats, args.run_minutes * 60
        )
    except RangeFileError as err:
        print(str(err), file=sys.stderr)
        return 1
    except (NotFound, generate.SweepTooLarge) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        reason = err.strerror or err
        print(f"error: cannot write {out_dir}/ ({reason}); nothing changed", file=sys.stderr)
        return 1
    generate.print_report(sweep, configs, out_dir, source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
