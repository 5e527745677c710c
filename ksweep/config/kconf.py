"""The project's Kconfig tree, loaded through kconfiglib, and the value rules it declares.

Kconfig knows bool, int (with `range`), hex and string symbols. Floats are string
symbols, so the rule for what a string may hold lives in the first line of its help
text, the one place the generator and the trainer both read:

    Type: float                  any finite number
    Type: float in [0, 1)        a number in an interval ("(" / ")" exclude the end)
    Type: one of none, magnitude, state

    Type: text: auto, cpu, cuda or cuda:N     a word matching one of the forms (N a number)

    >>> kconf = load_kconfig()
    >>> check_value(kconf.syms["LEARNING_RATE"], "fast")
    'fast is not a number'

Which Kconfig: the one a command names (`--kconfig PATH`, Make's KCONFIG=), else the
project's own `Kconfig` in the working directory, else ksweep's built-in one. The command
chooses once (`use_kconfig`: the file must parse, or its file:line is the one error) and
exports its choice as KSWEEP_KCONFIG, so its runs (the built-in trainer reads its configs
here too) and every later `load_kconfig()` of the process read the same tree.

`read_config` is the one reader of a .config or defconfig file: `make defconfig`,
`make olddefconfig`, `make savedefconfig` and the trainer all load files through it.
It reads lines as the range-file parser does (ksweep.config.rangefile: quotes optional for
string values, trailing comments dropped), checks every symbol and value, and reports
every problem with file:line, as the kernel's conf does, instead of dropping a line.
Problems are errors, a value that has no effect (its dependency unmet) is a warning.

Nothing here imports torch: the generator, the runner and `make help` stay fast.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib

from ksweep.config.rangefile import Axis, read_lines
from ksweep.contract.project import BUILTIN_ROOT, command_line, display
from ksweep.contract.records import config_values

CONFIG_PREFIX = "CONFIG_"
KCONFIG = "Kconfig"  # a project's top-level file, as in the kernel
KCONFIG_ENV = "KSWEEP_KCONFIG"  # the chosen Kconfig (absolute), for this process and its runs
BUILTIN_KCONFIG = BUILTIN_ROOT / KCONFIG
_SRCTREE_VAR = "srctree"

_RULE_LINE = re.compile(r"^Type:\s*(?P<rule>.+?)\.?$")
_TEXT_FORMS = re.compile(r"^text: (?P<forms>.+)$")
_FLOAT_INTERVAL = re.compile(r"^float in (?P<lo_br>[\[(])\s*(?P<lo>[^,]+),\s*(?P<hi>[^\])]+)(?P<hi_br>[\])])")


@dataclass(frozen=True)
class ValueRule:
    """What a symbol's value may be: its kind plus optional bounds or allowed words."""

    kind: str  # bool, int, hex, float, enum (one of words), forms (matches one of words) or text
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: tuple[str, ...] = ()


@contextlib.contextmanager
def _srctree(root: Path):
    # kconfiglib resolves `source "Kconfig.x"` against $srctree (lower case, as in
    # kbuild), read at load time.
    saved = os.environ.get(_SRCTREE_VAR)
    os.environ[_SRCTREE_VAR] = str(root)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(_SRCTREE_VAR, None)
        else:
            os.environ[_SRCTREE_VAR] = saved


class KconfigProblem(Exception):
    """The Kconfig to use is not there, or kconfiglib cannot parse it; the message says where."""


def kconfig_file(given: str | Path | None = None) -> Path:
    """The Kconfig file `given` names (a file, or a folder holding a Kconfig), else the current
    choice: KSWEEP_KCONFIG (what the command chose), ./Kconfig, the built-in one. Absolute."""
    if given is None or str(given) == "":
        chosen = os.environ.get(KCONFIG_ENV)
        return Path(chosen) if chosen else _default_kconfig()
    path = Path(given)
    if path.is_dir():
        path = path / KCONFIG
    if not path.is_file():
        where = f" (a folder without a {KCONFIG})" if Path(given).is_dir() else ""
        raise KconfigProblem(f"KCONFIG={given}: no such file{where}")
    return path.resolve()


def use_kconfig(given: str | Path | None = None) -> Path:
    """Choose the Kconfig this command works against: `given` (--kconfig, KCONFIG=), else the
    project's ./Kconfig, else the built-in one. It must parse (KconfigProblem: its file:line);
    the choice is exported (KSWEEP_KCONFIG) for the runs and every later load_kconfig()."""
    path = kconfig_file(given) if given else _default_kconfig()
    _check_parses(str(path), path.stat().st_mtime_ns)
    os.environ[KCONFIG_ENV] = str(path)
    return path


def _default_kconfig() -> Path:
    return (Path(KCONFIG) if Path(KCONFIG).is_file() else BUILTIN_KCONFIG).resolve()


@functools.lru_cache(maxsize=8)
def _check_parses(path: str, mtime_ns: int) -> None:
    load_kconfig(path)


def load_kconfig(path: str | Path | None = None) -> kconfiglib.Kconfig:
    """Parse the Kconfig tree of `path` (a file or its folder; the chosen one by default, see
    kconfig_file); warnings collected, not printed. KconfigProblem when it does not parse."""
    path = kconfig_file(path)
    with _srctree(path.parent):
        try:
            return kconfiglib.Kconfig(str(path), warn_to_stderr=False)
        except (kconfiglib.KconfigError, OSError) as err:
            raise KconfigProblem(_short_error(err, path.parent)) from None


def _short_error(err: Exception, srctree: Path) -> str:
    """kconfiglib's message on one line, `file:line: why`, its paths shown short."""
    text = " ".join(str(err).split())
    text = text.replace(f"{srctree}/", "" if display(srctree) == "." else f"{display(srctree)}/")
    return re.sub(r"^(\S+:\d+): error: ", r"\1: ", text)


def defined_symbol(kconf: kconfiglib.Kconfig, name: str) -> kconfiglib.Symbol | None:
    """The symbol `name` (without CONFIG_) if the Kconfig defines it, else None."""
    sym = kconf.syms.get(name)
    return sym if sym is not None and sym.nodes else None


def help_text(sym: kconfiglib.Symbol) -> str:
    return next((node.help for node in sym.nodes if node.help), "") or ""


def value_rule(sym: kconfiglib.Symbol) -> ValueRule:
    """The rule a value of `sym` must follow, from its Kconfig type and its help text."""
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return ValueRule("bool")
    if sym.orig_type == kconfiglib.INT:
        return ValueRule("int")
    if sym.orig_type == kconfiglib.HEX:
        return ValueRule("hex")
    first_line = help_text(sym).strip().splitlines()[0] if help_text(sym).strip() else ""
    match = _RULE_LINE.match(first_line.split(". ")[0] + ".")
    rule = match.group("rule") if match else "text"
    if rule == "float":
        return ValueRule("float")
    interval = _FLOAT_INTERVAL.match(rule)
    if interval:
        return ValueRule(
            "float",
            low=float(interval["lo"]),
            high=float(interval["hi"]),
            low_open=interval["lo_br"] == "(",
            high_open=interval["hi_br"] == ")",
        )
    if rule.startswith("one of "):
        words = tuple(w.strip() for w in rule[len("one of ") :].split(","))
        return ValueRule("enum", words=words)
    forms = _TEXT_FORMS.match(rule)
    if forms:
        words = tuple(w.strip() for w in re.split(r",|\bor\b", forms["forms"]) if w.strip())
        return ValueRule("forms", words=words)
    return ValueRule("text")


def _form_pattern(form: str) -> re.Pattern:
    # "cuda:N": N stands for a whole number; everything else is literal.
    return re.compile("^" + re.escape(form).replace("N", r"\d+") + "$")


def int_range(sym: kconfiglib.Symbol) -> tuple[int, int] | None:
    """The active `range` of an int/hex symbol, or None when it has none."""
    base = 16 if sym.orig_type == kconfiglib.HEX else 10
    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            return int(low.str_value, base), int(high.str_value, base)
    return None


def check_value(sym: kconfiglib.Symbol, value: str) -> str | None:
    """Why `value` (unquoted) is not a valid value of `sym`, or None when it is."""
    rule = value_rule(sym)
    if rule.kind == "bool":
        return None if value in ("y", "n") else f"{value} is not y or n"
    if rule.kind in ("int", "hex"):
        return _check_int(sym, value, 16 if rule.kind == "hex" else 10)
    if rule.kind == "float":
        return _check_float(rule, value)
    if rule.kind == "enum" and value not in rule.words:
        return f"{value} is not one of {', '.join(rule.words)}"
    if rule.kind == "forms" and not any(_form_pattern(form).match(value) for form in rule.words):
        return f"{value} is not one of {', '.join(rule.words)} (N: a number)"
    return None


def _check_int(sym: kconfiglib.Symbol, value: str, base: int) -> str | None:
    try:
        number = int(value, base)
    except ValueError:
        return f"{value} is not an integer"
    bounds = int_range(sym)
    if bounds and not bounds[0] <= number <= bounds[1]:
        return f"{value} is outside the symbol's range {bounds[0]}..{bounds[1]}"
    return None


def _check_float(rule: ValueRule, value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return f"{value} is not a number"
    if not math.isfinite(number):
        return f"{value} is not a finite number"
    if rule.low is not None:
        below = number <= rule.low if rule.low_open else number < rule.low
        above = number >= rule.high if rule.high_open else number > rule.high
        if below or above:
            lo_br = "(" if rule.low_open else "["
            hi_br = ")" if rule.high_open else "]"
            return f"{value} is outside {lo_br}{rule.low:g}, {rule.high:g}{hi_br}"
    return None


def config_text(kconf: kconfiglib.Kconfig, header: str = "") -> str:
    """The full .config for the current symbol values, as `write_config` would write it."""
    # _config_contents is what write_config writes; calling it directly saves a file
    # round trip per combination, which is most of the generator's time otherwise.
    return kconf._config_contents(header)


def non_default_values(config_path: Path | str, kconf: kconfiglib.Kconfig | None = None) -> dict[str, str]:
    """CONFIG_X → value for every symbol of a config file that differs from its default,
    as savedefconfig sees it (a choice member =n or a default in its context is not listed).
    Pass `kconf` to reuse one parsed Kconfig over many files."""

    kconf = kconf or load_kconfig()
    found = read_config(kconf, config_path)  # starts again from the defaults; a bad line is skipped
    unreadable = [e for e in found.errors if ": cannot read: " in e]
    if unreadable:
        raise OSError(unreadable[0])
    # _min_config_contents is what write_min_config (savedefconfig) writes, as a string.
    return config_values(kconf._min_config_contents(""))


def symbol_values(kconf: kconfiglib.Kconfig) -> dict[str, str]:
    """Every defined, active symbol's value, keyed by name without the CONFIG_ prefix."""
    return {
        sym.name: sym.str_value
        for sym in kconf.unique_defined_syms
        if sym.config_string  # empty when the symbol is inactive (unmet dependency)
    }


def symbol_problem(kconf: kconfiglib.Kconfig, name: str, values: tuple[str, ...]) -> str | None:
    """Why CONFIG_`name` cannot take `values` (unknown symbol, no prompt, a bad value), or None."""
    sym = defined_symbol(kconf, name)
    if sym is None:
        close = difflib.get_close_matches(name.upper(), [s.name for s in kconf.unique_defined_syms], n=1)
        hint = f" (did you mean CONFIG_{close[0]}?)" if close else ""
        return f"unknown symbol: no Kconfig defines it{hint}"
    if not any(node.prompt for node in sym.nodes):
        return "has no prompt, so only Kconfig can set it"
    return next(filter(None, (check_value(sym, value) for value in values)), None)


def unmet_dependency(sym: kconfiglib.Symbol) -> str:
    """The part of `sym`'s `depends on` that is false now (`OPTIMIZER_SELECT_SGD`)."""
    conjuncts = kconfiglib.split_expr(sym.direct_dep, kconfiglib.AND)
    unmet = [c for c in conjuncts if kconfiglib.expr_value(c) == 0] or [sym.direct_dep]
    return " && ".join(kconfiglib.expr_str(c) for c in unmet)


@dataclass
class ConfigRead:
    """What read_config found: every problem (as `file:line: CONFIG_X: why`), every warning
    (`file:line: warning: ...`) and the line of each symbol the file sets."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)


def read_config(kconf: kconfiglib.Kconfig, path: Path | str, text: str | None = None) -> ConfigRead:
    """Load the .config or defconfig at `path` (or its `text`) into `kconf` over the defaults.

    Every line is checked: syntax as in a range file, one value per symbol, a defined
    symbol (with a did-you-mean), a value its symbol accepts, one y per choice. Good
    lines are applied in file order even when others are bad; a caller that writes
    anything must refuse when `errors` is not empty."""
    path = str(path)
    result = ConfigRead()
    kconf.unset_values()  # the defaults, also when the file cannot be read
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            result.errors.append(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}")
            return result
    axes, syntax = read_lines(text, path)
    result.errors += [str(err) for err in syntax]
    applied: list[tuple[Axis, kconfiglib.Symbol]] = []
    for axis in axes:
        result.lines[axis.name] = axis.line
        reason = symbol_problem(kconf, axis.name, axis.values)
        if reason is None and axis.is_swept:
            reason = (
                f"{len(axis.values)} values in a config file, which takes one: "
                f"expand choices and ranges with `{command_line('sweep-generate', range_config='...')}`"
            )
        if reason:
            result.errors.append(f"{axis.where}: {axis.symbol}: {reason}")
            continue
        sym = kconf.syms[axis.name]
        sym.set_value(axis.values[0])
        applied.append((axis, sym))
    result.errors += _double_choices(applied)
    result.errors.sort(key=_line_of)
    for axis, sym in applied:
        if not sym.visibility and sym.choice is None:
            result.warnings.append(
                f"{axis.where}: warning: {axis.symbol} has no effect: depends on {unmet_dependency(sym)}"
            )
    return result


def _line_of(message: str) -> int:
    match = re.match(r"^.*?:(\d+): ", message)
    return int(match[1]) if match else 0


def _double_choices(applied: list[tuple[Axis, kconfiglib.Symbol]]) -> list[str]:
    # The C tools let the last y of a choice win; a file with two is a typo, and taking
    # the last one would train something other than what the file says.
    chosen: dict[kconfiglib.Choice, list[Axis]] = {}
    for axis, sym in applied:
        if sym.choice is not None and axis.values[0] == "y":
            chosen.setdefault(sym.choice, []).append(axis)
    return [
        f"{axes[-1].where}: {axes[-1].symbol}: a second member of choice {choice.name} set to y "
        f"(line {axes[0].line} sets {axes[0].symbol}=y); set one member to y"
        for choice, axes in chosen.items()
        if len(axes) > 1
    ]
