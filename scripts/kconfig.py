#!/usr/bin/env python3
"""The kernel's Kconfig targets over this project's Kconfig, through kconfiglib.

python scripts/kconfig.py defconfig NAME     NAME (path or defconfigs/ name) → .config
python scripts/kconfig.py savedefconfig      .config → defconfig (only what differs from defaults)
python scripts/kconfig.py olddefconfig       .config → .config, new symbols at their defaults
python scripts/kconfig.py menuconfig         the terminal menu over .config
python scripts/kconfig.py list               the defconfigs and range files under defconfigs/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import _cli  # noqa: F401 - puts the project on sys.path

from ksweep.kconf import PROJECT_ROOT, load_kconfig
from ksweep.paths import DEFCONFIG_DIR, NotFound, display, find_defconfig, list_defconfigs

DOT_CONFIG = Path(os.environ.get("KCONFIG_CONFIG", ".config"))


def defconfig(name: str) -> int:
    path = find_defconfig(name)
    if path.name.endswith("-range"):
        raise NotFound(f"{display(path)} is a range file: use `make sweep-generate RANGE_CONFIG={path.name}`")
    kconf = load_kconfig()
    kconf.load_config(str(path))
    return _write(kconf, DOT_CONFIG, f"configuration written to {DOT_CONFIG} (from {display(path)})")


def savedefconfig(out: str) -> int:
    kconf = _load_dot_config()
    kconf.write_min_config(out)
    print(f"minimal configuration saved to {out}")
    return 0


def olddefconfig() -> int:
    return _write(_load_dot_config(), DOT_CONFIG, f"configuration written to {DOT_CONFIG}")


def menuconfig() -> int:
    import menuconfig as kconfiglib_menuconfig  # kconfiglib's curses front end

    os.environ.setdefault("KCONFIG_CONFIG", str(DOT_CONFIG))
    kconfiglib_menuconfig.menuconfig(load_kconfig())
    return 0


def list_all() -> int:
    for path in list_defconfigs():
        kind = "range" if path.name.endswith("-range") else "defconfig"
        first = next((line[2:] for line in path.read_text().splitlines() if line.startswith("# ")), "")
        print(f"  {str(path.relative_to(DEFCONFIG_DIR)):45} {kind:9} {first}")
    return 0


def _load_dot_config():
    if not DOT_CONFIG.is_file():
        raise NotFound(f"{DOT_CONFIG}: no such file: run `make defconfig` or `make menuconfig` first")
    kconf = load_kconfig()
    kconf.load_config(str(DOT_CONFIG))
    return kconf


def _write(kconf, path: Path, message: str) -> int:
    for warning in kconf.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    kconf.write_config(str(path), save_old=False)
    print(message)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("defconfig").add_argument("name", nargs="?", default="lenet5-digits")
    sub.add_parser("savedefconfig").add_argument("out", nargs="?", default="defconfig")
    for name in ("olddefconfig", "menuconfig", "list"):
        sub.add_parser(name)
    args = parser.parse_args(argv)
    os.environ.setdefault("srctree", str(PROJECT_ROOT))
    try:
        if args.command == "defconfig":
            return defconfig(args.name)
        if args.command == "savedefconfig":
            return savedefconfig(args.out)
        return {"olddefconfig": olddefconfig, "menuconfig": menuconfig, "list": list_all}[args.command]()
    except NotFound as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
