"""Expand a range defconfig into sweep_configs/config_NNN (see ksweep/config/generate.py).

ksweep generate [RANGE_CONFIG] [OUT_DIR] [--max-configs N] [--repeats k] [--kconfig FILE]
    [--search random|tpe]   (a search's space: checked and kept, no config listed)
make sweep-generate RANGE_CONFIG=file
python scripts/generate_config_combinations.py RANGE_FILE [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from ksweep.cli import args as cli
from ksweep.config import generate

COMMAND = "generate"


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = cli.parser(__doc__, prog)
    parser.add_argument(
        "range_file", nargs="?", help="range defconfig: a path or a name under defconfigs/ (RANGE_CONFIG)"
    )
    parser.add_argument("out_dir", nargs="?", help="default: sweep_configs (CONFIG_DIR)")
    cli.add_options(parser, COMMAND)
    parser.add_argument(
        "--run-minutes",
        type=float,
        default=generate.TYPICAL_RUN_SECONDS / 60,
        help="typical minutes per run, for the size warning (default: 32)",
    )
    args = parser.parse_args(argv)
    range_file = cli.one_of(parser, args.range_config, args.range_file, "RANGE_CONFIG")
    values = cli.with_defaults(args, COMMAND)
    out_dir = Path(args.out_dir or values.config_dir)
    return generate.generate_and_report(
        range_file,
        out_dir,
        values.max_configs,
        values.repeats,
        run_seconds=args.run_minutes * 60,
        search=values.search,
        kconfig=values.kconfig,
    )


if __name__ == "__main__":
    sys.exit(main())
