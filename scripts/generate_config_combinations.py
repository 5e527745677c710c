#!/usr/bin/env python3
"""Expand a range defconfig into sweep_configs/config_NNN (see ksweep/config/generate.py).

python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR] [--max-configs N] [--repeats k]
    [--search random|tpe]   (a search's space: checked and kept, no config listed)
"""

from __future__ import annotations

import sys
from pathlib import Path

import _cli

from ksweep.config import generate
from ksweep.config import options as config_options
from ksweep.options import add_flags, resolve
from ksweep.search import options as search_options


def main(argv: list[str] | None = None) -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("range_file", help="range defconfig: a path or a name under defconfigs/")
    parser.add_argument("out_dir", nargs="?", help="default: sweep_configs (CONFIG_DIR)")
    declared = (*config_options.OPTIONS, *search_options.OPTIONS)
    add_flags(parser, options := [o for o in declared if "generate" in o.commands])
    parser.add_argument(
        "--run-minutes",
        type=float,
        default=generate.TYPICAL_RUN_SECONDS / 60,
        help="typical minutes per run, for the size warning (default: 32)",
    )
    args = parser.parse_args(argv)
    values = resolve(options, vars(args))
    out_dir = Path(args.out_dir or values.config_dir)
    return generate.generate_and_report(
        args.range_file,
        out_dir,
        values.max_configs,
        values.repeats,
        run_seconds=args.run_minutes * 60,
        search=values.search,
        kconfig=values.kconfig,
    )


if __name__ == "__main__":
    sys.exit(main())
