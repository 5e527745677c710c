#!/usr/bin/env python3
"""The kernel's Kconfig targets over the project's Kconfig, through kconfiglib.

python scripts/kconfig.py defconfig NAME     NAME (path or defconfigs/ name) → .config
python scripts/kconfig.py savedefconfig      .config → defconfig (only what differs from defaults)
python scripts/kconfig.py olddefconfig       .config → .config, new symbols at their defaults
python scripts/kconfig.py menuconfig         the terminal menu over .config
python scripts/kconfig.py list               the defconfigs and range files under defconfigs/

Every target reads its input through ksweep.config.kconf.read_config, the reader the trainer
uses too: every unknown symbol, malformed line and bad value is reported with
file:line, and nothing is written while there is one (exit 1, the old .config kept).
A value that has no effect (its dependency unmet) is a warning, as in the kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import _cli

from ksweep.config.defconfigs import defconfig_dir, find_defconfig, is_range_file, list_defconfigs
from ksweep.config.kconf import KconfigProblem, check_value, kconfig_file, load_kconfig, read_config
from ksweep.contract.project import NotFound, display

DOT_CONFIG = Path(os.environ.get("KCONFIG_CONFIG", ".config"))


def defconfig(name: str) -> int:
    path = find_defconfig(name)
    if path.name.endswith("-range"):  # a range file by another name gets its lines' own errors
        raise NotFound(f"{display(path)} is a range file: use `make sweep-generate RANGE_CONFIG={path.name}`")
    kconf = _load(path)
    return _write(kconf, DOT_CONFIG, f"configuration written to {DOT_CONFIG} (from {display(path)})")


def savedefconfig(out: str) -> int:
    kconf = _load_dot_config()
    kconf.write_min_config(out)
    print(f"minimal configuration saved to {out}")
    return 0


def olddefconfig() -> int:
    return _write(_load_dot_config(), DOT_CONFIG, f"configuration written to {DOT_CONFIG}")


def menuconfig() -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise Refused("make menuconfig needs a terminal (stdin and stdout are not one)")
    import menuconfig as kconfiglib_menuconfig  # kconfiglib's curses front end

    os.environ.setdefault("KCONFIG_CONFIG", str(DOT_CONFIG))
    _check_entries_by_help_rule(kconfiglib_menuconfig)
    if DOT_CONFIG.is_file():
        # kconfiglib's menu reloads .config with its own loader, which drops what it cannot
        # read (an unquoted float among them): read it our way first and write it back in
        # the form the menu reads (a no-op when it is already in that form).
        _load(DOT_CONFIG, then="fix them first: the menu would drop those lines").write_config(
            str(DOT_CONFIG), save_old=False
        )
    kconfiglib_menuconfig.menuconfig(load_kconfig())
    if DOT_CONFIG.is_file():
        # What the menu saved is read as the trainer will read it (a hand edit may be in it too).
        _load(DOT_CONFIG, then="fix it in `make menuconfig` (or the file) before training")
    return 0


def _check_entries_by_help_rule(menu) -> None:
    """Make the menu's value dialog refuse what the symbol's help rule refuses (`fast` as a
    learning rate), as it already refuses a malformed int: the error shows, the value stays."""
    builtin = menu._check_valid

    def check(sym, text):
        if not builtin(sym, text):
            return False
        reason = check_value(sym, text)
        if reason:
            menu._error(f"CONFIG_{sym.name}: {reason}")
            return False
        return True

    menu._check_valid = check


def list_all() -> int:
    for path in list_defconfigs():
        kind = "range" if is_range_file(path) else "defconfig"
        print(f"  {str(path.relative_to(defconfig_dir())):45} {kind:9} {_first_sentence(path)}")
    return 0


def _first_sentence(path: Path, limit: int = 160) -> str:
    """The file's opening comment up to its first full stop, cut with … if longer than `limit`."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or line.startswith("# CONFIG_"):
            break
        words += line.lstrip("#").split()
    text = " ".join(words)
    end = text.find(". ")
    sentence = text[: end + 1] if end >= 0 else text
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


class Refused(Exception):
    """A file with problems: they were printed; nothing was written."""


def _load(path: Path, then: str = "nothing written"):
    kconf = load_kconfig()
    found = read_config(kconf, path)
    for warning in found.warnings:
        print(warning, file=sys.stderr)
    for error in found.errors:
        print(error, file=sys.stderr)
    if found.errors:
        count = len(found.errors)
        raise Refused(f"{display(path)}: {count} problem{'s' if count != 1 else ''}; {then}")
    return kconf


def _load_dot_config():
    if not DOT_CONFIG.is_file():
        raise NotFound(f"{DOT_CONFIG}: no such file: run `make defconfig` or `make menuconfig` first")
    return _load(DOT_CONFIG, then=f"{DOT_CONFIG} left as it was")


def _write(kconf, path: Path, message: str) -> int:
    kconf.write_config(str(path), save_old=False)
    print(message)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, target in (("defconfig",) * 2, ("savedefconfig",) * 2, ("olddefconfig",) * 2,
                         ("menuconfig",) * 2, ("list", "list-defconfigs")):  # fmt: skip
        _cli.add_options(target_parser := sub.add_parser(name), target)
        if name == "defconfig":
            target_parser.add_argument("name", nargs="?", default="lenet5-digits")
        if name == "savedefconfig":
            target_parser.add_argument("out", nargs="?", default="defconfig")
    args = parser.parse_args(argv)
    if (refused := _cli.use_kconfig(args)) is not None:
        return refused
    os.environ.setdefault("srctree", str(kconfig_file().parent))
    try:
        if args.command == "defconfig":
            return defconfig(args.name)
        if args.command == "savedefconfig":
            return savedefconfig(args.out)
        return {"olddefconfig": olddefconfig, "menuconfig": menuconfig, "list": list_all}[args.command]()
    except (NotFound, Refused, KconfigProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
