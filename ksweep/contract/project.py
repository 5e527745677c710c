"""Where ksweep's own files are, where a sweep's project is, and the two helpers every message
uses: a path shown short, and the error for something the user named that is not there.

ksweep runs from a checkout of its repository (`make sweep`) or installed (`pip install`,
then `ksweep sweep` anywhere). Three places, the same in a checkout:

    BUILTIN_ROOT   the built-in Kconfig and defconfigs/: the checkout's root, or the copy
                   installed inside the package (ksweep/_builtin/)
    PROJECT_ROOT   the project a sweep belongs to: where the built-in trainer runs (a relative
                   DATA_DIR is under it), whose git commit a sweep records, what runs get on
                   their PYTHONPATH; the checkout's root, or the working directory of an
                   installed ksweep
    CODE_ROOT      the folder above ksweep/ (site-packages, once installed)

Outputs (sweep_configs/, test_matrix_results/) go to the working directory either way.
"""

from __future__ import annotations

from pathlib import Path

CODE_ROOT = Path(__file__).resolve().parent.parent.parent
# A checkout of the repository: its Kconfig and the built-in trainer (models/) beside ksweep/.
CHECKOUT = (CODE_ROOT / "Kconfig").is_file() and (CODE_ROOT / "models" / "train.py").is_file()
BUILTIN_ROOT = CODE_ROOT if CHECKOUT else CODE_ROOT / "ksweep" / "_builtin"
PROJECT_ROOT = CODE_ROOT if CHECKOUT else Path.cwd()


def command_line(target: str, **variables: object) -> str:
    """What the user types to run the Make target `target` with `variables` (values quoted by
    the caller): `make sweep-resume SWEEP=dir` in a checkout, whose Makefile is its interface;
    `ksweep resume --sweep dir` once installed, where there is no Makefile."""
    if CHECKOUT:
        return " ".join([f"make {target}", *(f"{name.upper()}={value}" for name, value in variables.items())])
    flags = (f"--{name.replace('_', '-')} {value}" for name, value in variables.items())
    return " ".join([f"ksweep {target.removeprefix('sweep-')}", *flags])


class NotFound(Exception):
    """A file or sweep the user named does not exist; the message says where we looked."""


def display(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
