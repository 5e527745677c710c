"""The kernel's Kconfig targets over the project's Kconfig, through kconfiglib.

    ksweep defconfig [NAME]    make defconfig DEFCONFIG=NAME   NAME (path or defconfigs/ name) → .config
    ksweep savedefconfig       make savedefconfig     .config → defconfig (only what differs from defaults)
    ksweep olddefconfig        make olddefconfig      .config → .config, new symbols at their defaults
    ksweep menuconfig          make menuconfig        the terminal menu over .config
    ksweep list-defconfigs     make list-defconfigs   the defconfigs and range files under defconfigs/
    python scripts/kconfig.py defconfig|savedefconfig|olddefconfig|menuconfig|list ...

The Kconfig is the project's (--kconfig, KCONFIG=; else ./Kconfig, else ksweep's own), and
defconfigs/ the folder beside it. Every target reads its input through
ksweep.config.kconf.read_config, the reader the trainer uses too: every unknown symbol,
malformed line and bad value is reported with file:line, and nothing is written while
there is one (exit 1, the old .config kept). A value that has no effect (its dependency
unmet) is a warning, as in the kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ksweep.cli import args as cli
from ksweep.config.defconfigs import defconfig_dir, find_defconfig, is_range_file, list_defconfigs
from ksweep.config.kconf import KconfigProblem, check_value, kconfig_file, load_kconfig, read_config
from ksweep.contract.project import NotFound, command_line, display

DOT_CONFIG = Path(os.environ.get("KCONFIG_CONFIG", ".config"))
DEFAULT_DEFCONFIG = "lenet5-digits"  # make defconfig without DEFCONFIG=


def defconfig(name: str) -> int:
    path = find_defconfig(name)
    if path.name.endswith("-range"):  # a range file by another name gets its lines' own errors
        generate = command_line("sweep-generate", range_config=path.name)
        raise NotFound(f"{display(path)} is a range file: use `{generate}`")
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
        raise Refused(f"{command_line('menuconfig')} needs a terminal (stdin and stdout are not one)")
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
        _load(DOT_CONFIG, then=f"fix it in `{command_line('menuconfig')}` (or the file) before training")
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
        first = f"`{command_line('defconfig')}` or `{command_line('menuconfig')}`"
        raise NotFound(f"{DOT_CONFIG}: no such file: run {first} first")
    return _load(DOT_CONFIG, then=f"{DOT_CONFIG} left as it was")


def _write(kconf, path: Path, message: str) -> int:
    kconf.write_config(str(path), save_old=False)
    print(message)
    return 0


# The targets: the `ksweep` subcommand (and Make target) → scripts/kconfig.py's name for it.
TARGETS = {
    "defconfig": "defconfig", "savedefconfig": "savedefconfig", "olddefconfig": "olddefconfig",
    "menuconfig": "menuconfig", "list-defconfigs": "list",
}  # fmt: skip


def _arguments(parser: argparse.ArgumentParser, target: str) -> None:
    if target == "defconfig":
        parser.add_argument("name", nargs="?", help="a path or a name under defconfigs/ (DEFCONFIG)")
    if target == "savedefconfig":
        parser.add_argument("out", nargs="?", default="defconfig", help="where to save (default ./defconfig)")
    cli.add_options(parser, target)


def parse_args(argv: list[str] | None, prog: str | None, target: str | None) -> argparse.Namespace:
    """`target` given: that target's arguments (`ksweep defconfig NAME`); else the script's
    form, the target first (`scripts/kconfig.py defconfig NAME`)."""
    parser = cli.parser(__doc__, prog)
    if target is not None:
        _arguments(parser, target)
        args = parser.parse_args(argv)
        args.command = TARGETS[target]
    else:
        sub = parser.add_subparsers(dest="command", required=True)
        for name, script_name in TARGETS.items():
            _arguments(sub.add_parser(script_name, help=f"make {name}"), name)
        args = parser.parse_args(argv)
    if args.command == "defconfig":
        args.name = cli.one_of(parser, args.defconfig, args.name, "DEFCONFIG")
    return args


def main(argv: list[str] | None = None, prog: str | None = None, command: str | None = None) -> int:
    args = parse_args(argv, prog, command)
    if (refused := cli.use_kconfig(args)) is not None:
        return refused
    os.environ.setdefault("srctree", str(kconfig_file().parent))
    try:
        if args.command == "defconfig":
            return defconfig(args.name or DEFAULT_DEFCONFIG)
        if args.command == "savedefconfig":
            return savedefconfig(args.out)
        return {"olddefconfig": olddefconfig, "menuconfig": menuconfig, "list": list_all}[args.command]()
    except (NotFound, Refused, KconfigProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
