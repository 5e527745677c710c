"""TRAIN_COMMAND: its check before a sweep, and a run's command line, made in one place.

    TRAIN_COMMAND='python train.py'            python train.py --config FILE --output-dir DIR
    TRAIN_COMMAND='python main.py --lr {LEARNING_RATE} --epochs 1'
                                               python main.py --lr 3e-4 --epochs 1

A command without placeholders gets the trainer contract's two arguments appended, as the
built-in trainer does. A command that holds any placeholder gets nothing appended: its
placeholders say where everything goes.

    {LEARNING_RATE}, {CONFIG_LEARNING_RATE}   the symbol's value in the run's config: a string
                                              without its Kconfig quotes, a bool `y` or `n`
    {output_dir}                              the run's folder (absolute)
    {config}                                  the run's config.txt (absolute)
    {{ and }}                                 a literal { and }

The command is split into words once, as a shell splits it (shlex), and is never run
through a shell: a value goes into the word that holds its placeholder, so it stays inside
that one argument whatever it holds (spaces, `;`, quotes), as a shell-quoted value would.
A symbol the run's config does not set (its dependency is not met there) is the empty
string; the run stage says so before the sweep when a planned config lacks one.

run_argv() is the one place a run's argv is made: the local fork server (the built-in
trainer's arguments and an exec'd TRAIN_COMMAND alike), Ray (the local launcher on each
node), Slurm's task on its node, the report's Reproduce line and `make sweep-reproduce`.
check_train_command() refuses, in one line, what cannot start: unbalanced quotes or braces,
a program not on PATH, a placeholder that names no Kconfig symbol (with a did-you-mean).
"""

from __future__ import annotations

import difflib
import re
import shlex
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ksweep.contract.records import config_values

OUTPUT_DIR, CONFIG = "output_dir", "config"  # the run's two paths, lower case: never a symbol
PREFIX = "CONFIG_"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")  # an escape, a placeholder, or a lone brace
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CommandError(ValueError):
    """TRAIN_COMMAND cannot start; the message says why."""


def placeholders(words: Iterable[str]) -> list[str]:
    """The placeholders' names as written (`LEARNING_RATE`, `CONFIG_SEED`, `output_dir`), in
    order; CommandError, naming the word, for a lone brace or braces that hold no name."""
    names = []
    for word in words:
        for token in _TOKEN.finditer(word):
            text = token.group(0)
            if text in ("{{", "}}"):
                continue
            if text in ("{", "}"):
                lone = "a { without its }" if text == "{" else "a } without its {"
                raise CommandError(
                    f"TRAIN_COMMAND: {word!r} has {lone} (write {{{{ or }}}} for a literal brace)"
                )
            if not _NAME.match(token.group(1)):
                raise CommandError(
                    f"TRAIN_COMMAND: {text} is no placeholder: a Kconfig symbol ({{LEARNING_RATE}}), "
                    "{output_dir} or {config} (write {{ and }} for literal braces)"
                )
            names.append(token.group(1))
    return names


def split_command(command: str) -> list[str]:
    """TRAIN_COMMAND as words, placeholders still in them; CommandError for what cannot start
    wherever it runs (quotes, braces, a program not on PATH). The launchers' check."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise CommandError(f"TRAIN_COMMAND={command!r}: {err} (check its quotes)") from None
    if not argv:
        raise CommandError("TRAIN_COMMAND is empty")
    placeholders(argv)
    if not placeholders(argv[:1]) and shutil.which(argv[0]) is None:
        raise CommandError(f"TRAIN_COMMAND={command!r}: {argv[0]}: no such program (not found on PATH)")
    return argv


def check_train_command(command: str, symbols: Callable[[], Iterable[str]] | None = None) -> list[str]:
    """TRAIN_COMMAND as words, or CommandError, one line, saying why it cannot run: what
    split_command refuses, and placeholders that name no symbol of the Kconfig (`symbols`
    gives its names, without CONFIG_; by default the Kconfig in use, loaded only when needed)."""
    argv = split_command(command)
    named = [name for name in placeholders(argv) if name not in (OUTPUT_DIR, CONFIG)]
    if named:
        known = set(symbols() if symbols else kconfig_symbols())
        unknown = [name for name in dict.fromkeys(named) if name.removeprefix(PREFIX) not in known]
        if unknown:
            raise CommandError("; ".join(_no_symbol(name, known) for name in unknown))
    return argv


def kconfig_symbols() -> list[str]:
    """The names of the symbols the Kconfig in use defines (kconfiglib, so loaded on demand)."""
    from ksweep.config.kconf import load_kconfig

    return [name for name, sym in load_kconfig().syms.items() if sym.nodes]


def _no_symbol(name: str, known: set[str]) -> str:
    bare = name.removeprefix(PREFIX)
    prefix = name[: len(name) - len(bare)]
    by_case = {symbol.upper(): symbol for symbol in known}
    close = [by_case[bare.upper()]] if bare.upper() in by_case else []
    if not close and name.lower() in (OUTPUT_DIR, CONFIG):
        close, prefix = [name.lower()], ""
    close = close or difflib.get_close_matches(bare.upper(), sorted(known), n=1, cutoff=0.75)
    hint = f" (did you mean {{{prefix}{close[0]}}}?)" if close else ""
    return f"TRAIN_COMMAND: {{{name}}} names no Kconfig symbol{hint}"


def symbol_placeholders(command: str | None) -> list[str]:
    """The CONFIG_ names TRAIN_COMMAND's placeholders take values of (none for no command)."""
    if not command:
        return []
    names = [n for n in placeholders(shlex.split(command)) if n not in (OUTPUT_DIR, CONFIG)]
    return list(dict.fromkeys(PREFIX + name.removeprefix(PREFIX) for name in names))


def run_argv(command: Sequence[str], config: str, output_dir: str) -> list[str]:
    """A run's argv: `command` (TRAIN_COMMAND's words, or the built-in trainer's) with its
    placeholders filled from the run's config file, or, with none, followed by the trainer
    contract's `--config FILE --output-dir DIR`."""
    if not placeholders(command):
        return [_fill(word, {}) for word in command] + ["--config", config, "--output-dir", output_dir]
    values = {OUTPUT_DIR: output_dir, CONFIG: config}
    if any(name not in values for name in placeholders(command)):
        values.update(config_values(Path(config).read_text(encoding="utf-8")))
    return [_fill(word, values) for word in command]


def _fill(word: str, values: dict[str, str]) -> str:
    def value(token: re.Match) -> str:
        text, name = token.group(0), token.group(1)
        if name is None:
            return text[0]  # {{ → {, }} → }
        if name in (OUTPUT_DIR, CONFIG):
            return values[name]
        return values.get(PREFIX + name.removeprefix(PREFIX), "")  # not set in this config: empty

    return _TOKEN.sub(value, word)


def unset_placeholders(command: str | None, configs: list[tuple[str, str]]) -> list[str]:
    """A line per placeholder symbol that some of `configs` (name, text) do not set: those runs
    get an empty argument there (a dependency not met, say SGD_MOMENTUM beside AdamW)."""
    notes = []
    for symbol in symbol_placeholders(command):
        lacking = [name for name, text in configs if symbol not in config_values(text)]
        if lacking:
            names = ", ".join(lacking[:3]) + (", ..." if len(lacking) > 3 else "")
            notes.append(
                f"TRAIN_COMMAND: {symbol} is not set in {len(lacking)} of {len(configs)} configs ({names}): "
                "its placeholder is an empty argument there"
            )
    return notes
